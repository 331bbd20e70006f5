"""Comparing profiles: which spec fields changed, and what applying a fleet would do."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from switchyard.registry.v1 import registry_pb2

Model = registry_pb2.Model

# The operator-editable part of a profile; everything else is output-only.
SPEC_FIELDS: tuple[str, ...] = (
    "display_name",
    "provider",
    "pricing",
    "context_window",
    "max_output_tokens",
    "capabilities",
    "quality",
    "latency",
    "labels",
)
_MESSAGE_FIELDS = ("provider", "pricing", "latency")
_MAP_FIELDS = ("quality", "labels")


def changed_fields(old: Model, new: Model) -> list[str]:
    """Spec field paths that differ: `pricing.input_micros_per_mtok`, `labels.team`, ..."""
    changed: list[str] = []
    for name in SPEC_FIELDS:
        if name in _MESSAGE_FIELDS:
            old_message, new_message = getattr(old, name), getattr(new, name)
            for sub in old_message.DESCRIPTOR.fields:
                if getattr(old_message, sub.name) != getattr(new_message, sub.name):
                    changed.append(f"{name}.{sub.name}")
        elif name in _MAP_FIELDS:
            old_map, new_map = getattr(old, name), getattr(new, name)
            for key in sorted(set(old_map) | set(new_map)):
                if key not in old_map or key not in new_map or old_map[key] != new_map[key]:
                    changed.append(f"{name}.{key}")
        elif name == "capabilities":
            if sorted(set(old.capabilities)) != sorted(set(new.capabilities)):
                changed.append(name)
        elif getattr(old, name) != getattr(new, name):
            changed.append(name)
    return changed


def top_level(paths: Iterable[str]) -> list[str]:
    """The update_mask for a set of changed paths: their top-level fields."""
    return sorted({path.split(".", 1)[0] for path in paths})


Action = Literal["create", "update", "delete", "unchanged"]


@dataclass(frozen=True)
class PlannedChange:
    model_id: str
    action: Action
    changed_fields: tuple[str, ...] = ()
    # The etag the change was planned against: a concurrent edit makes it stale.
    etag: str = ""


def diff_fleet(
    current: Sequence[Model], desired: Sequence[Model], *, prune: bool = False
) -> list[PlannedChange]:
    """What applying `desired` would do to `current`, ordered by model id."""
    held = {m.name: m for m in current}
    wanted = {m.name: m for m in desired}
    plan: list[PlannedChange] = []
    for name in sorted(set(held) | set(wanted)):
        model_id = name.removeprefix("models/")
        if name not in held:
            plan.append(PlannedChange(model_id, "create", tuple(_populated(wanted[name]))))
        elif name not in wanted:
            if prune:
                plan.append(PlannedChange(model_id, "delete", (), held[name].etag))
        else:
            changes = changed_fields(held[name], wanted[name])
            action: Action = "update" if changes else "unchanged"
            plan.append(PlannedChange(model_id, action, tuple(changes), held[name].etag))
    return plan


def _populated(model: Model) -> list[str]:
    return [f.name for f, _ in model.ListFields() if f.name in SPEC_FIELDS]
