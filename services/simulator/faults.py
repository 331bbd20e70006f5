"""Run-time fault injection: per-model overrides set through the admin endpoint.

A `FaultSettings` replaces the previous one wholesale (PUT semantics) and is reset by
DELETE. Fault outcomes are drawn from one uniform number per request, partitioned by
the rates, so each rate is exactly the fraction of requests that see that fault; that
is why the rates must add up to at most 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from services.simulator.models import read_number
from switchyard.runtime.errors import FieldViolation, InvalidArgument

_RATE_FIELDS = ("malformed_rate", "truncated_rate", "refusal_rate", "empty_rate")


@dataclass(frozen=True)
class FaultSettings:
    """Overrides on top of a model profile; the defaults inject nothing."""

    # None keeps the profile's own error_rate / error_status / retry_after_s.
    error_rate: float | None = None
    error_status: int | None = None
    retry_after_s: float | None = None
    added_latency_ms: float = 0.0
    latency_multiplier: float = 1.0
    # 200 replies whose body is not a valid completion.
    malformed_rate: float = 0.0
    # Answers cut short with finish_reason "length".
    truncated_rate: float = 0.0
    # Polite refusals ("I'm sorry, but I can't help with that request.").
    refusal_rate: float = 0.0
    # 200 replies with empty content.
    empty_rate: float = 0.0
    # A share of replies (answers and errors alike) held back `delay_ms` longer: a
    # stalling upstream, drawn independently of the outcome.
    delay_rate: float = 0.0
    delay_ms: float = 0.0

    @property
    def active(self) -> bool:
        return self != NO_FAULTS

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


NO_FAULTS = FaultSettings()

_BOUNDS: dict[str, dict[str, Any]] = {
    "error_rate": {"lo": 0, "hi": 1},
    "error_status": {"lo": 400, "hi": 599, "integer": True},
    "retry_after_s": {"lo": 0, "hi": 86_400},
    "added_latency_ms": {"lo": 0, "hi": 600_000},
    "latency_multiplier": {"lo": 0, "hi": 1_000},
    **{name: {"lo": 0, "hi": 1} for name in _RATE_FIELDS},
    "delay_rate": {"lo": 0, "hi": 1},
    "delay_ms": {"lo": 0, "hi": 600_000},
}


def parse_faults(body: Any, *, base_error_rate: float) -> FaultSettings:
    """Validate an admin request body; InvalidArgument names every bad field."""
    if not isinstance(body, Mapping):
        raise InvalidArgument([FieldViolation("body", "must be a JSON object")])
    violations = [
        FieldViolation(str(key), f"unknown field (known: {', '.join(_BOUNDS)})")
        for key in body
        if key not in _BOUNDS
    ]
    values: dict[str, Any] = {}
    for name, bounds in _BOUNDS.items():
        value = read_number(body, name, violations, **bounds)
        if value is not None:
            values[name] = value
    if not violations:
        error_rate = values.get("error_rate", base_error_rate)
        total = error_rate + sum(values.get(name, 0.0) for name in _RATE_FIELDS)
        if total > 1.0 + 1e-9:
            named = [n for n in ("error_rate", *_RATE_FIELDS) if values.get(n)]
            if "error_rate" not in values and base_error_rate:
                named.insert(0, f"error_rate (profile: {base_error_rate:g})")
            violations.append(
                FieldViolation(
                    named[-1].split(" ")[0],
                    f"{' + '.join(named)} must add up to <= 1 (got {total:g})",
                )
            )
    if violations:
        raise InvalidArgument(violations)
    return FaultSettings(**values)
