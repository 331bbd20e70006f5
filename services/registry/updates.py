"""Building the next version of a profile from a request: create and field-mask update.

Pure functions: they return the complete new profile or raise InvalidArgument with
every problem found, so a multi-field update is judged (and later stored) as a whole.
"""

from __future__ import annotations

import re

from google.protobuf import field_mask_pb2

from services.registry.validation import (
    model_id_violations,
    model_name,
    normalize,
    parse_model_name,
    profile_violations,
)
from switchyard.fleet import SPEC_FIELDS
from switchyard.registry.v1 import registry_pb2
from switchyard.runtime.errors import FieldViolation, InvalidArgument

Model = registry_pb2.Model

_PATH_RE = re.compile(r"[a-z_]+(\.[a-z_0-9]+)?")
OUTPUT_ONLY = frozenset({"name", "etag", "revision", "create_time", "update_time"})
# Fields whose sub-fields may be named in a mask (`pricing.input_micros_per_mtok`).
_NESTED = {
    "provider": registry_pb2.Provider.DESCRIPTOR,
    "pricing": registry_pb2.Pricing.DESCRIPTOR,
    "latency": registry_pb2.LatencyProfile.DESCRIPTOR,
}


def new_profile(model_id: str, requested: Model) -> Model:
    """The profile to store for CreateModel, or InvalidArgument."""
    violations = model_id_violations(model_id)
    if requested.name and requested.name != model_name(model_id):
        violations.append(
            FieldViolation(
                "model.name", f"must be empty or models/{model_id}, got {requested.name!r}"
            )
        )
    model = Model()
    model.CopyFrom(requested)
    for output_only in OUTPUT_ONLY:
        model.ClearField(output_only)  # type: ignore[arg-type]
    model.name = model_name(model_id)
    normalize(model)
    violations.extend(profile_violations(model))
    if violations:
        raise InvalidArgument(violations)
    return model


def mask_paths(patch: Model, mask: field_mask_pb2.FieldMask) -> list[str]:
    """Validated mask paths; an empty mask means every spec field set in `patch` (AIP-134)."""
    paths = list(mask.paths)
    if not paths:
        return [f.name for f, _ in patch.ListFields() if f.name in SPEC_FIELDS]
    if paths == ["*"]:
        return list(SPEC_FIELDS)
    violations: list[FieldViolation] = []
    for path in paths:
        head, _, rest = path.partition(".")
        if path == "*":
            violations.append(FieldViolation("update_mask", "'*' must be the only path"))
        elif not _PATH_RE.fullmatch(path):
            violations.append(FieldViolation("update_mask", f"malformed path {path[:80]!r}"))
        elif head == "health":
            violations.append(
                FieldViolation("update_mask", "health is reported with ReportHealth, not updated")
            )
        elif head in OUTPUT_ONLY:
            violations.append(FieldViolation("update_mask", f"{head} is output only"))
        elif head not in SPEC_FIELDS:
            violations.append(FieldViolation("update_mask", f"unknown field {path!r}"))
        elif rest and (head not in _NESTED or rest not in _NESTED[head].fields_by_name):
            violations.append(
                FieldViolation("update_mask", f"unknown field {path!r} (maps are replaced whole)")
            )
    if violations:
        raise InvalidArgument(violations)
    return paths


def updated_profile(current: Model, patch: Model, mask: field_mask_pb2.FieldMask) -> Model:
    """`current` with the masked fields taken from `patch`, validated as a whole."""
    paths = mask_paths(patch, mask)
    model = Model()
    model.CopyFrom(current)
    if paths:
        field_mask_pb2.FieldMask(paths=paths).MergeMessage(
            patch, model, replace_message_field=True, replace_repeated_field=True
        )
    normalize(model)
    violations = profile_violations(model)
    if violations:
        raise InvalidArgument(violations)
    return model


def model_id_of(name: str, field: str = "name") -> str:
    return parse_model_name(name, field)
