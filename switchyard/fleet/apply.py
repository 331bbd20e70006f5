"""Applying a fleet to a running registry: validate everything, then write with etags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import grpc
from google.protobuf import field_mask_pb2

from switchyard.fleet.diff import PlannedChange, diff_fleet, top_level
from switchyard.registry.v1 import registry_pb2, registry_pb2_grpc
from switchyard.runtime.errors import FieldViolation, field_violations

Model = registry_pb2.Model


@dataclass
class FleetApplyResult:
    plan: list[PlannedChange]
    dry_run: bool
    applied: list[str] = field(default_factory=list)
    # Models whose etag went stale (or that appeared) between planning and applying.
    conflicts: dict[str, str] = field(default_factory=dict)
    # Validation failures; when any exists nothing was applied.
    rejected: dict[str, list[FieldViolation]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.conflicts and not self.rejected

    @property
    def pending(self) -> list[PlannedChange]:
        return [c for c in self.plan if c.action != "unchanged"]


async def list_all_models(
    stub: registry_pb2_grpc.RegistryServiceStub,
    *,
    metadata: Sequence[tuple[str, str]] = (),
    filter: str = "",
    page_size: int = 200,
) -> list[Model]:
    models: list[Model] = []
    token = ""
    while True:
        response = await stub.ListModels(
            registry_pb2.ListModelsRequest(page_size=page_size, page_token=token, filter=filter),
            metadata=metadata,
        )
        models.extend(response.models)
        token = response.next_page_token
        if not token:
            return models


async def apply_fleet(
    stub: registry_pb2_grpc.RegistryServiceStub,
    models: Sequence[Model],
    *,
    metadata: Sequence[tuple[str, str]] = (),
    dry_run: bool = False,
    prune: bool = False,
) -> FleetApplyResult:
    """Make the registry hold `models`: validate every change first, then apply with etags.

    Nothing is written when any change fails validation. A model edited concurrently
    (stale etag) is reported in `conflicts` and left as the other writer left it.
    """
    current = await list_all_models(stub, metadata=metadata)
    plan = diff_fleet(current, models, prune=prune)
    result = FleetApplyResult(plan=plan, dry_run=dry_run)
    wanted = {m.name.removeprefix("models/"): m for m in models}
    for validate_only in (True, False):
        for change in result.pending:
            try:
                await _apply_one(stub, change, wanted, metadata, validate_only=validate_only)
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                if code == grpc.StatusCode.INVALID_ARGUMENT:
                    result.rejected[change.model_id] = field_violations(exc) or [
                        FieldViolation("model", exc.details() or "invalid")
                    ]
                elif code in (
                    grpc.StatusCode.ABORTED,
                    grpc.StatusCode.ALREADY_EXISTS,
                    grpc.StatusCode.NOT_FOUND,
                ):
                    result.conflicts[change.model_id] = exc.details() or code.name
                else:
                    raise
            else:
                if not validate_only:
                    result.applied.append(change.model_id)
        if dry_run or result.rejected:
            break
    return result


async def _apply_one(
    stub: registry_pb2_grpc.RegistryServiceStub,
    change: PlannedChange,
    wanted: Mapping[str, Model],
    metadata: Sequence[tuple[str, str]],
    *,
    validate_only: bool,
) -> None:
    if change.action == "create":
        model = Model()
        model.CopyFrom(wanted[change.model_id])
        model.ClearField("name")
        await stub.CreateModel(
            registry_pb2.CreateModelRequest(
                model_id=change.model_id, model=model, validate_only=validate_only
            ),
            metadata=metadata,
        )
    elif change.action == "update":
        model = Model()
        model.CopyFrom(wanted[change.model_id])
        model.etag = change.etag
        mask = field_mask_pb2.FieldMask(paths=top_level(change.changed_fields))
        await stub.UpdateModel(
            registry_pb2.UpdateModelRequest(
                model=model, update_mask=mask, validate_only=validate_only
            ),
            metadata=metadata,
        )
    elif change.action == "delete":
        await stub.DeleteModel(
            registry_pb2.DeleteModelRequest(
                name=f"models/{change.model_id}", etag=change.etag, validate_only=validate_only
            ),
            metadata=metadata,
        )
