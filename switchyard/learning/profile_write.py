"""Writing profiling results into the registry: one UpdateModel per model, with etags.

`profile_patch` (pure) turns a model as read before the run plus its measured figures
into the update: quality per task type (score, dataset, measure time), the total
latency percentiles, and provenance labels. `write_profiles` validates every update
first (`validate_only`) and writes nothing when any is refused, then sends each with
the etag read before the run, so a profile someone edited meanwhile is a conflict,
never overwritten. Routers pick the change up on their watch stream.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
from google.protobuf import field_mask_pb2, timestamp_pb2

from switchyard.learning.profiling import ModelSummary
from switchyard.registry.v1 import registry_pb2, registry_pb2_grpc
from switchyard.runtime.errors import FieldViolation, field_violations

Model = registry_pb2.Model

# Provenance of the last profiling run, as labels: the registry's Model has no field for
# it (docs/profiling.md). Per-task sample sizes are `profile-samples.<task>`.
LABEL_DATASET = "profile-dataset"
LABEL_DATE = "profile-date"
LABEL_SAMPLES = "profile-samples"
LABEL_MODE = "profile-mode"
_LATENCY_FIELDS = ("total_p50_ms", "total_p95_ms", "total_p99_ms")
_LABEL_VALUE_BAD = re.compile(r"[^A-Za-z0-9_.\-:/]")
QUALITY_DECIMALS = 4


def label_value(text: str) -> str:
    """`text` as a registry label value: at most 63 of A-Z a-z 0-9 _ . - : /."""
    return _LABEL_VALUE_BAD.sub("-", text)[:63]


@dataclass(frozen=True)
class Provenance:
    dataset: str
    measured_at: dt.datetime
    mode: str  # "live" | "offline"


@dataclass(frozen=True)
class ProfileUpdate:
    model_id: str
    model: Model
    paths: tuple[str, ...]

    def request(self, *, validate_only: bool) -> registry_pb2.UpdateModelRequest:
        return registry_pb2.UpdateModelRequest(
            model=self.model,
            update_mask=field_mask_pb2.FieldMask(paths=list(self.paths)),
            validate_only=validate_only,
        )


def latency_ms_for_registry(value: float) -> int:
    # Whole milliseconds, rounded up: 0 would mean "not measured" to the registry.
    return max(1, math.ceil(value))


def profile_patch(current: Model, summary: ModelSummary, provenance: Provenance) -> ProfileUpdate:
    """The update for one model; fields not measured are left as they are."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(provenance.measured_at.astimezone(dt.UTC))
    model = Model(name=current.name, etag=current.etag)
    # Maps are replaced whole by UpdateModel: carry over every task not measured now.
    for task, quality in current.quality.items():
        model.quality[task].CopyFrom(quality)
    dataset = label_value(provenance.dataset)
    for task, figures in summary.by_task.items():
        model.quality[task].CopyFrom(
            registry_pb2.TaskQuality(
                score=round(figures.quality, QUALITY_DECIMALS),
                dataset=dataset,
                measure_time=stamp,
            )
        )
    labels = {
        key: value
        for key, value in current.labels.items()
        if key not in (LABEL_DATASET, LABEL_DATE, LABEL_SAMPLES, LABEL_MODE)
    }
    labels.update(
        {
            LABEL_DATASET: dataset,
            LABEL_DATE: provenance.measured_at.astimezone(dt.UTC).strftime("%Y-%m-%d"),
            LABEL_SAMPLES: str(summary.overall.requests),
            LABEL_MODE: provenance.mode,
        }
    )
    for task, figures in summary.by_task.items():
        labels[f"{LABEL_SAMPLES}.{task}"] = str(figures.requests)
    model.labels.update(labels)
    paths = ["quality", "labels"]
    percentiles = [summary.overall.latency_ms(p) for p in (50, 95, 99)]
    if all(value is not None for value in percentiles):
        for name, value in zip(_LATENCY_FIELDS, percentiles, strict=True):
            setattr(model.latency, name, latency_ms_for_registry(value))  # type: ignore[arg-type]
            paths.append(f"latency.{name}")
    return ProfileUpdate(current.name.removeprefix("models/"), model, tuple(paths))


@dataclass
class WriteResult:
    written: list[str] = field(default_factory=list)
    # Refused by validation; when any model is, nothing was written.
    rejected: dict[str, list[FieldViolation]] = field(default_factory=dict)
    # Changed by someone else since the run read it (stale etag) or deleted meanwhile.
    conflicts: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.conflicts


_CONFLICT_CODES = (grpc.StatusCode.ABORTED, grpc.StatusCode.NOT_FOUND)


async def write_profiles(
    stub: registry_pb2_grpc.RegistryServiceStub,
    updates: Sequence[ProfileUpdate],
    *,
    metadata: Sequence[tuple[str, str]] = (),
    timeout_s: float = 10.0,
) -> WriteResult:
    """Validate all, then write each (one UpdateModel per model, all or nothing per
    model). Auth and transport errors propagate as AioRpcError."""
    result = WriteResult()
    for validate_only in (True, False):
        for update in updates:
            try:
                await update_model(
                    stub,
                    update,
                    metadata=metadata,
                    validate_only=validate_only,
                    timeout_s=timeout_s,
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                    result.rejected[update.model_id] = field_violations(exc) or [
                        FieldViolation("model", exc.details() or "invalid")
                    ]
                elif exc.code() in _CONFLICT_CODES:
                    result.conflicts[update.model_id] = exc.details() or exc.code().name
                else:
                    raise
            else:
                if not validate_only:
                    result.written.append(update.model_id)
        if not result.ok:
            break
    return result


async def update_model(
    stub: registry_pb2_grpc.RegistryServiceStub,
    update: ProfileUpdate,
    *,
    metadata: Sequence[tuple[str, str]],
    validate_only: bool,
    timeout_s: float,
) -> Model:
    response = await stub.UpdateModel(
        update.request(validate_only=validate_only), metadata=metadata, timeout=timeout_s
    )
    return response.model


async def check_write_access(
    stub: registry_pb2_grpc.RegistryServiceStub,
    current: Model,
    *,
    metadata: Sequence[tuple[str, str]],
    timeout_s: float = 10.0,
) -> None:
    """Fail before a long run when the token may not update models: a validate-only
    UpdateModel that changes nothing (PERMISSION_DENIED / UNAUTHENTICATED propagate)."""
    noop = Model(name=current.name, etag=current.etag)
    noop.labels.update(current.labels)
    await stub.UpdateModel(
        registry_pb2.UpdateModelRequest(
            model=noop,
            update_mask=field_mask_pb2.FieldMask(paths=["labels"]),
            validate_only=True,
        ),
        metadata=metadata,
        timeout=timeout_s,
    )
