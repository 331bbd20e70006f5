"""What happened in each phase of a chaos run: the figures the checks judge.

Pure functions over `CallOutcome`s and `PhaseWindow`s (no gRPC, no processes).

Definitions (docs/chaos.md explains them):
- **success**: a real answer (code OK, not degraded). A fault-injected error that a
  retry or the next stage absorbed still ends as a success; it shows in the failed
  attempts and in attempts per request. Calls the client cut short on purpose
  (cancelled or given a short deadline) are left out of the success rate.
- **attempts**: model calls, counted where they land: the calls the model server
  received while the phase ran (the simulator's counters, health probes included),
  plus the calls that found no server (connection refused or reset, from the traces).
- **probe floor**: what probing a sick model may add on top of 1.2 × requests. Per
  model, the router's active health checks (one per `probe_interval × (1 − jitter)`
  at most, while its breaker is OPEN) plus `half_open_calls` probes each time it turns
  HALF_OPEN, as the router's `breaker.transition` log tells.
- **recovery**: from the end of the fault to the first real answer the client
  received after it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.chaos.outcomes import OK, BreakerTransition, CallOutcome, PhaseWindow
from bench.stats import percentile

OPEN = "open"
HALF_OPEN = "half_open"


@dataclass(frozen=True)
class ProbeSettings:
    """The router's probing, as configured for the run."""

    interval_s: float = 0.5
    jitter: float = 0.2
    half_open_calls: int = 3


@dataclass(frozen=True)
class PhaseSummary:
    name: str
    sent: int
    answered: int
    degraded: int
    real: int
    panic: int
    # Final status of every call that did not end OK, by code (calls the client cut
    # short on purpose left out: they are in `cut_codes`).
    errors: dict[str, int]
    # Calls the client cut short on purpose, and how they ended (OK when the answer
    # came first).
    cut_by_client: int
    cut_codes: dict[str, int]
    attempts: int
    probe_floor: int
    failed_attempts: int
    p50_ms: float
    p99_ms: float
    # Over the fault window, calls the client did not cut short; None without a fault.
    success_rate: float | None
    recovery_s: float | None
    # From the end of the fault to the send of the last call that was not a success.
    last_failure_s: float | None
    open_breakers_at_end: tuple[str, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def attempts_per_request(self) -> float:
        return self.attempts / self.sent if self.sent else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sent": self.sent,
            "answered": self.answered,
            "degraded": self.degraded,
            "real_answers": self.real,
            "panic": self.panic,
            "errors": dict(sorted(self.errors.items())),
            "cut_by_client": self.cut_by_client,
            "cut_codes": dict(sorted(self.cut_codes.items())),
            "attempts": self.attempts,
            "attempts_per_request": round(self.attempts_per_request, 3),
            "probe_floor": self.probe_floor,
            "failed_attempts": self.failed_attempts,
            "latency_ms": {"p50": round(self.p50_ms, 1), "p99": round(self.p99_ms, 1)},
            "success_rate": None if self.success_rate is None else round(self.success_rate, 5),
            "recovery_s": None if self.recovery_s is None else round(self.recovery_s, 3),
            "last_failure_s": None
            if self.last_failure_s is None
            else round(self.last_failure_s, 3),
            "open_breakers_at_end": list(self.open_breakers_at_end),
            "facts": self.facts,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PhaseSummary:
        """Back from `as_dict` (a results file), for re-rendering its tables."""
        return cls(
            name=d["name"],
            sent=d["sent"],
            answered=d["answered"],
            degraded=d["degraded"],
            real=d["real_answers"],
            panic=d["panic"],
            errors=dict(d["errors"]),
            cut_by_client=d["cut_by_client"],
            cut_codes=dict(d["cut_codes"]),
            attempts=d["attempts"],
            probe_floor=d["probe_floor"],
            failed_attempts=d["failed_attempts"],
            p50_ms=d["latency_ms"]["p50"],
            p99_ms=d["latency_ms"]["p99"],
            success_rate=d["success_rate"],
            recovery_s=d["recovery_s"],
            last_failure_s=d["last_failure_s"],
            open_breakers_at_end=tuple(d["open_breakers_at_end"]),
            facts=dict(d["facts"]),
        )


def open_intervals(
    transitions: Iterable[BreakerTransition], run_end_s: float
) -> dict[str, list[tuple[float, float]]]:
    """Per model, the stretches its breaker spent OPEN (an open stretch still going at
    the end of the run ends there)."""
    intervals: dict[str, list[tuple[float, float]]] = {}
    opened: dict[str, float] = {}
    for t in sorted(transitions, key=lambda t: t.t_s):
        if t.new == OPEN:
            opened.setdefault(t.model, t.t_s)
        elif t.model in opened:
            intervals.setdefault(t.model, []).append((opened.pop(t.model), t.t_s))
    for model, since in opened.items():
        intervals.setdefault(model, []).append((since, max(since, run_end_s)))
    return intervals


def probe_floor(
    transitions: Sequence[BreakerTransition],
    start_s: float,
    end_s: float,
    *,
    run_end_s: float,
    probes: ProbeSettings,
    models: Iterable[str] | None = None,
) -> int:
    """The most probe calls the router may make in [start_s, end_s): active health
    checks while a breaker is OPEN, plus the HALF_OPEN probe slots it hands out."""
    wanted = set(models) if models is not None else None
    min_gap = probes.interval_s * (1.0 - probes.jitter)
    floor = 0
    for model, stretches in open_intervals(transitions, run_end_s).items():
        if wanted is not None and model not in wanted:
            continue
        for opened, closed in stretches:
            overlap = min(closed, end_s) - max(opened, start_s)
            if overlap > 0:
                floor += math.floor(overlap / min_gap) + 1
    floor += probes.half_open_calls * sum(
        1
        for t in transitions
        if t.new == HALF_OPEN and start_s <= t.t_s < end_s and (wanted is None or t.model in wanted)
    )
    return floor


def summarize(
    window: PhaseWindow,
    outcomes: Sequence[CallOutcome],
    *,
    transitions: Sequence[BreakerTransition] = (),
    run_end_s: float | None = None,
    probes: ProbeSettings = ProbeSettings(),
    served_models: Iterable[str] | None = None,
) -> PhaseSummary:
    """The phase's figures from the calls sent while it ran."""
    mine = [o for o in outcomes if window.holds(o)]
    answered = [o for o in mine if o.code == OK]
    latencies = sorted(o.latency_ms for o in answered)
    errors = Counter(o.code for o in mine if o.code != OK and not o.cut)
    success_rate = None
    if window.fault_start_s is not None:
        judged = [o for o in mine if window.in_fault(o) and not o.cut]
        success_rate = sum(o.real_answer for o in judged) / len(judged) if judged else 1.0
    recovery = last_failure = None
    if window.fault_end_s is not None:
        end = window.fault_end_s
        # Any call counts, cut or not: recovery is the first real answer anyone got.
        after = sorted(o.done_s for o in outcomes if o.real_answer and o.done_s >= end)
        recovery = after[0] - end if after else None
        failures = [
            o.intended_s for o in mine if o.intended_s >= end and not o.cut and not o.real_answer
        ]
        last_failure = max(failures) - end if failures else 0.0
    floor = probe_floor(
        transitions,
        window.start_s,
        window.end_s,
        run_end_s=run_end_s if run_end_s is not None else window.end_s,
        probes=probes,
        models=served_models,
    )
    return PhaseSummary(
        name=window.name,
        sent=len(mine),
        answered=len(answered),
        degraded=sum(1 for o in answered if o.degraded),
        real=sum(1 for o in answered if not o.degraded),
        panic=sum(1 for o in answered if o.panic),
        errors=dict(errors),
        cut_by_client=sum(1 for o in mine if o.cut),
        cut_codes=dict(Counter(o.code for o in mine if o.cut)),
        attempts=window.upstream_calls + sum(o.refused_calls for o in mine),
        probe_floor=floor,
        failed_attempts=sum(o.failed_calls for o in mine),
        p50_ms=percentile(latencies, 50) if latencies else 0.0,
        p99_ms=percentile(latencies, 99) if latencies else 0.0,
        success_rate=success_rate,
        recovery_s=recovery,
        last_failure_s=last_failure,
        open_breakers_at_end=window.open_breakers_at_end,
        facts=dict(window.facts),
    )
