"""What the chaos client keeps of each call, and the phase windows the runner marks.

Plain values (no gRPC): the checks and the report work on these alone, so they can be
unit-tested with hand-made outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

OK = "OK"
# The client saw no end to the call within its deadline plus a grace period.
LOST = "LOST"
# gRPC codes no request may end with: an untyped failure says nothing a caller can act on.
UNTYPED = frozenset({"INTERNAL", "UNKNOWN"})


class CallOutcome(NamedTuple):
    """One Route() call; times in seconds from the start of the load, latency in ms."""

    intended_s: float
    done_s: float
    latency_ms: float
    code: str
    degraded: bool = False
    panic: bool = False
    model_id: str = ""
    policy_version: int = 0
    # Attempts in the response's trace that called a model (breaker-skipped ones not).
    model_calls: int = 0
    # ... of which failed (error, timeout, malformed): what retries and escalation absorbed.
    failed_calls: int = 0
    # ... of which never reached a server (connection refused or reset).
    refused_calls: int = 0
    # How the client cut the call short on purpose: "", "deadline" or "cancel".
    cut: str = ""

    @property
    def real_answer(self) -> bool:
        """An answer from a model, accepted by the verifier: not degraded, not an error."""
        return self.code == OK and not self.degraded


@dataclass(frozen=True)
class BreakerTransition:
    t_s: float
    model: str
    old: str
    new: str


@dataclass(frozen=True)
class PhaseWindow:
    """When a phase ran and what the runner saw outside the client: its fault window,
    the calls the model servers received, the breakers still open at its end."""

    name: str
    start_s: float
    end_s: float
    # The fault window; None for a phase without a fault (the baseline).
    fault_start_s: float | None = None
    fault_end_s: float | None = None
    # Calls the simulator counted while the phase ran (health probes included).
    upstream_calls: int = 0
    # Models of the active policy that Plan() reported open (or in panic) at the end.
    open_breakers_at_end: tuple[str, ...] = ()
    # Phase-specific facts (policy versions pushed, what the control plane answered).
    facts: Mapping[str, Any] = field(default_factory=dict)

    def holds(self, outcome: CallOutcome) -> bool:
        return self.start_s <= outcome.intended_s < self.end_s

    def in_fault(self, outcome: CallOutcome) -> bool:
        if self.fault_start_s is None or self.fault_end_s is None:
            return False
        return self.fault_start_s <= outcome.intended_s < self.fault_end_s
