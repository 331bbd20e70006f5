"""Fleet breakers: the routers' breaker reports merged into one state per model.

- CLOSED → OPEN as soon as one router reports that its own failures opened its breaker:
  every router then refuses the model (what one router saw, all act on).
- OPEN → HALF_OPEN after the fleet's open wait (the active policy's `open_wait_ms`,
  doubled after each failed round up to `max_open_wait_ms`), decided here, not by each
  router's timer.
- HALF_OPEN is a **lease**: the round's probe budget (`half_open_calls`) is granted to
  one connected router at a time. The holder reports probes admitted and their results;
  progress renews the lease, silence for `lease_s` (or a disconnect) expires it, and the
  next router gets only what is left of the budget, so the fleet sends at most
  `half_open_calls` probes per round. Results decide: a failure share at or over the
  threshold re-opens (with backoff), else CLOSED everywhere.

Pure Python with injectable clocks; the stream feeds reports, a ticker calls `tick`.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Literal

from switchyard.policy import BreakerPolicy

FleetState = Literal["closed", "open", "half_open"]
# A router's local breaker state, by the router's own names (services/router/breakers.py).
LocalState = str

DEFAULT_LEASE_S = 2.0


@dataclass(frozen=True)
class BreakerTimings:
    """The active policy's breaker settings that the fleet decides with."""

    open_wait_s: float = 5.0
    max_open_wait_s: float = 60.0
    half_open_calls: int = 3
    failure_rate_threshold: float = 0.5

    @classmethod
    def from_policy(cls, policy: BreakerPolicy) -> BreakerTimings:
        return cls(
            open_wait_s=policy.open_wait_ms / 1000,
            max_open_wait_s=policy.max_open_wait_ms / 1000,
            half_open_calls=policy.half_open_calls,
            failure_rate_threshold=policy.failure_rate_threshold,
        )


@dataclass(frozen=True)
class ModelReport:
    """One router's report on one model (the wire's ModelBreakerReport)."""

    model_id: str
    state: LocalState
    transitions: tuple[tuple[LocalState, LocalState], ...] = ()
    successes: int = 0
    failures: int = 0
    slow_calls: int = 0
    lease_id: str = ""
    probes_admitted: int = 0
    probe_successes: int = 0
    probe_failures: int = 0


@dataclass
class RouterDetail:
    """What one router last said about one model; counts summed since this process began."""

    router_id: str
    state: LocalState = "closed"
    successes: int = 0
    failures: int = 0
    slow_calls: int = 0
    report_time_us: int = 0


@dataclass
class Lease:
    lease_id: str
    router_id: str
    probes: int
    expires_at: float
    expire_time_us: int
    admitted: int = 0
    successes: int = 0
    failures: int = 0


@dataclass
class ModelBreaker:
    model_id: str
    state: FleetState = "closed"
    opened_by: str = ""
    open_time_us: int = 0
    half_open_at: float = 0.0
    half_open_time_us: int = 0
    open_wait_s: float = 0.0
    lease: Lease | None = None
    # This round's probes under leases that already ended.
    round_admitted: int = 0
    round_successes: int = 0
    round_failures: int = 0
    last_holder: str = ""
    routers: dict[str, RouterDetail] = field(default_factory=dict)


def _wall_us() -> int:
    return time.time_ns() // 1000


class FleetBreakers:
    def __init__(
        self,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        clock: Callable[[], float] = time.monotonic,
        wall_us: Callable[[], int] = _wall_us,
        new_lease_id: Callable[[], str] = lambda: secrets.token_hex(8),
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._lease_s = lease_s
        self._clock = clock
        self._wall_us = wall_us
        self._new_lease_id = new_lease_id
        self._on_change = on_change
        self.timings = BreakerTimings()
        self._models: dict[str, ModelBreaker] = {}
        # Bumped on every change routers must see.
        self.revision = 0

    def configure(self, timings: BreakerTimings) -> None:
        """New thresholds from a newly active policy; rounds in progress keep theirs."""
        self.timings = timings

    def models(self) -> list[ModelBreaker]:
        return [self._models[m] for m in sorted(self._models)]

    def get(self, model_id: str) -> ModelBreaker | None:
        return self._models.get(model_id)

    def _changed(self) -> None:
        self.revision += 1
        self._on_change()

    # --- reports -----------------------------------------------------------------

    def report(self, router_id: str, reports: Iterable[ModelReport]) -> None:
        """Merge one router's report (already checked to come from its own stream)."""
        changed = False
        for report in reports:
            model = self._models.setdefault(report.model_id, ModelBreaker(report.model_id))
            detail = model.routers.setdefault(router_id, RouterDetail(router_id))
            detail.state = report.state
            detail.successes += max(0, report.successes)
            detail.failures += max(0, report.failures)
            detail.slow_calls += max(0, report.slow_calls)
            detail.report_time_us = self._wall_us()
            changed |= self._lease_progress(model, router_id, report)
            if model.state == "closed" and any(
                old == "closed" and new == "open" for old, new in report.transitions
            ):
                self._open(model, opened_by=router_id, wait_s=self.timings.open_wait_s)
                changed = True
            elif model.state == "open" and any(
                old == "open" and new == "half_open" for old, new in report.transitions
            ):
                # A router's active health check reached the model: end the open wait
                # now (the next tick leases the probe budget), as a lone router would.
                model.half_open_at = min(model.half_open_at, self._clock())
                changed = True
        if changed:
            self._changed()

    def _lease_progress(self, model: ModelBreaker, router_id: str, report: ModelReport) -> bool:
        lease = model.lease
        if (
            model.state != "half_open"
            or lease is None
            or lease.router_id != router_id
            or lease.lease_id != report.lease_id
        ):
            return False
        progress = (report.probes_admitted, report.probe_successes, report.probe_failures)
        if progress == (lease.admitted, lease.successes, lease.failures):
            return False
        # Never more than granted: a router cannot widen the fleet's budget.
        lease.admitted = min(max(0, report.probes_admitted), lease.probes)
        lease.successes = max(0, report.probe_successes)
        lease.failures = max(0, report.probe_failures)
        lease.expires_at = self._clock() + self._lease_s
        lease.expire_time_us = self._wall_us() + round(self._lease_s * 1e6)
        self._decide_if_done(model)
        return True  # the new expiry is part of the view

    # --- time ----------------------------------------------------------------------

    def tick(self, connected: Collection[str]) -> None:
        """Open waits ending, leases expiring, budgets granted: call it often."""
        now = self._clock()
        changed = False
        for model in self._models.values():
            if model.state == "open" and now >= model.half_open_at:
                model.state = "half_open"
                model.lease = None
                model.round_admitted = model.round_successes = model.round_failures = 0
                changed = True
            if model.state != "half_open":
                continue
            lease = model.lease
            if lease is not None and (now >= lease.expires_at or lease.router_id not in connected):
                self._end_lease(model)
                changed = True
                if model.state != "half_open":
                    continue
            if model.lease is None:
                changed |= self._grant(model, connected)
        if changed:
            self._changed()

    def _grant(self, model: ModelBreaker, connected: Collection[str]) -> bool:
        left = self.timings.half_open_calls - model.round_admitted
        if left <= 0:
            # Every probe went out under leases that lapsed before their results came:
            # decide on what did come, or count the round as failed.
            if model.round_successes + model.round_failures:
                self._decide(model)
            else:
                self._reopen(model)
            return True
        holder = self._next_holder(model.last_holder, connected)
        if holder is None:
            return False
        model.lease = Lease(
            lease_id=self._new_lease_id(),
            router_id=holder,
            probes=left,
            expires_at=self._clock() + self._lease_s,
            expire_time_us=self._wall_us() + round(self._lease_s * 1e6),
        )
        model.last_holder = holder
        return True

    @staticmethod
    def _next_holder(previous: str, connected: Collection[str]) -> str | None:
        """Round-robin over connected routers, so a router with no traffic for the model
        does not keep the budget (its lease lapses and the next one gets it)."""
        ordered = sorted(connected)
        if not ordered:
            return None
        later = [r for r in ordered if r > previous]
        return next(itertools.chain(later, ordered))

    def _end_lease(self, model: ModelBreaker) -> None:
        lease = model.lease
        assert lease is not None
        model.round_admitted += lease.admitted
        model.round_successes += lease.successes
        model.round_failures += lease.failures
        model.lease = None

    # --- decisions -----------------------------------------------------------------

    def _decide_if_done(self, model: ModelBreaker) -> None:
        lease = model.lease
        results = model.round_successes + model.round_failures
        if lease is not None:
            results += lease.successes + lease.failures
        if results >= self.timings.half_open_calls:
            if lease is not None:
                self._end_lease(model)
            self._decide(model)

    def _decide(self, model: ModelBreaker) -> None:
        results = model.round_successes + model.round_failures
        if results and model.round_failures / results >= self.timings.failure_rate_threshold:
            self._reopen(model)
        else:
            self._close(model)

    def _open(self, model: ModelBreaker, *, opened_by: str, wait_s: float) -> None:
        model.state = "open"
        model.opened_by = opened_by
        model.open_wait_s = wait_s
        model.open_time_us = self._wall_us()
        model.half_open_at = self._clock() + wait_s
        model.half_open_time_us = model.open_time_us + round(wait_s * 1e6)
        model.lease = None

    def _reopen(self, model: ModelBreaker) -> None:
        wait = min(
            max(model.open_wait_s, self.timings.open_wait_s) * 2, self.timings.max_open_wait_s
        )
        self._open(model, opened_by=model.opened_by, wait_s=wait)

    def _close(self, model: ModelBreaker) -> None:
        model.state = "closed"
        model.lease = None
        model.opened_by = ""
        model.round_admitted = model.round_successes = model.round_failures = 0
