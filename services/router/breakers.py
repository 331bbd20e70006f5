"""Circuit breakers per model, with resilience4j semantics and an injectable clock.

CLOSED counts outcomes in a sliding window of the last `window_size` calls; once at
least `minimum_calls` are in it and the failure rate or slow-call rate reaches its
threshold, the breaker OPENs. After `open_wait_s` (doubling on each re-open, up to
`max_open_wait_s`) it turns HALF_OPEN and admits `half_open_calls` probes; their
outcome decides CLOSED or OPEN again. After closing, traffic ramps back up linearly
over `ramp_up_s`. Operators can force OPEN or CLOSED, or drain a model.

With a control plane, the fleet view steers the breaker too (docs/controlplane.md):
a model the fleet holds OPEN is refused here whatever this router saw, and its open
wait is the fleet's (no local timer to HALF_OPEN); HALF_OPEN happens only under a fleet
lease, with the lease's probe budget. Without the control plane the breaker is local.
"""

from __future__ import annotations

import enum
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from switchyard.policy import BreakerPolicy


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    FORCED_CLOSED = "forced_closed"
    # Operator drain: no new calls, but panic mode may still use the model.
    DRAINING = "draining"


OPERATOR_STATES = (BreakerState.FORCED_OPEN, BreakerState.FORCED_CLOSED, BreakerState.DRAINING)


@dataclass(frozen=True)
class BreakerSettings:
    window_size: int = 20
    minimum_calls: int = 10
    failure_rate_threshold: float = 0.5
    slow_call_rate_threshold: float = 1.0
    slow_call_s: float = 10.0
    open_wait_s: float = 5.0
    max_open_wait_s: float = 60.0
    half_open_calls: int = 3
    ramp_up_s: float = 10.0

    def __post_init__(self) -> None:
        if not 1 <= self.minimum_calls <= self.window_size:
            raise ValueError("minimum_calls must be in 1..window_size")
        if self.half_open_calls < 1:
            raise ValueError("half_open_calls must be >= 1")

    @classmethod
    def from_policy(cls, p: BreakerPolicy) -> BreakerSettings:
        return cls(
            window_size=p.window_size,
            minimum_calls=p.minimum_calls,
            failure_rate_threshold=p.failure_rate_threshold,
            slow_call_rate_threshold=p.slow_call_rate_threshold,
            slow_call_s=p.slow_call_ms / 1000,
            open_wait_s=p.open_wait_ms / 1000,
            max_open_wait_s=p.max_open_wait_ms / 1000,
            half_open_calls=p.half_open_calls,
            ramp_up_s=p.ramp_up_ms / 1000,
        )


Transition = Callable[[BreakerState, BreakerState], None]


@dataclass(frozen=True)
class Admission:
    """A call the breaker let through. A half-open probe holds one of the period's
    probe slots until its outcome is recorded or the admission is released."""

    probe: bool
    # Which state period admitted it: a release after the breaker moved on is a no-op.
    epoch: int


@dataclass
class LeaseProgress:
    """Probes under one fleet lease, reported back so the fleet decides the round."""

    lease_id: str
    probes: int
    admitted: int = 0
    successes: int = 0
    failures: int = 0


@dataclass
class OutcomeCounts:
    """Calls recorded since the breaker was made (the reporter sends differences)."""

    successes: int = 0
    failures: int = 0
    slow_calls: int = 0


class Breaker:
    def __init__(
        self,
        settings: BreakerSettings = BreakerSettings(),
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        on_transition: Transition | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._rng = rng
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        self._window: deque[tuple[bool, bool]] = deque(maxlen=settings.window_size)
        self._opened_at = 0.0
        self._open_wait = settings.open_wait_s
        self._probes_admitted = 0
        self._probe_results: list[bool] = []
        self._closed_at: float | None = None
        self._epoch = 0
        # The fleet view holds this breaker (OPEN or under a lease): no local timer.
        self._fleet_held = False
        self.lease: LeaseProgress | None = None
        self.counts = OutcomeCounts()
        # Transitions this router's own outcomes caused, for the next fleet report.
        self.local_transitions: list[tuple[BreakerState, BreakerState]] = []

    @property
    def state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and not self._fleet_held
            and self._clock() - self._opened_at >= self._open_wait
        ):
            self._move(BreakerState.HALF_OPEN)
        return self._state

    @property
    def fleet_held(self) -> bool:
        return self._fleet_held

    def _probe_budget(self) -> int:
        return self.lease.probes if self.lease is not None else self.settings.half_open_calls

    @property
    def last_state(self) -> BreakerState:
        """The state as last moved, without the clock's OPEN -> HALF_OPEN step: what a
        metrics scrape on another thread may read without changing the breaker."""
        return self._state

    def allow(self) -> bool:
        """May a call go to this model now? Consumes a probe permit when HALF_OPEN."""
        return self.admit() is not None

    def admit(self, *, panic: bool = False) -> Admission | None:
        """Admit a call, or None. A HALF_OPEN admission takes a probe slot: the caller
        must record its outcome or `release` it, or the breaker stays half-open with no
        slot left and the model is never called again.

        `panic` (every model the rule may use is refused): admit despite OPEN, spent
        probe slots or ramp-up, as Envoy routes to all hosts below its panic threshold;
        an operator's FORCED_OPEN still refuses.
        """
        state = self.state
        if state is BreakerState.FORCED_OPEN:
            return None
        if state in (BreakerState.OPEN, BreakerState.DRAINING):
            return Admission(probe=False, epoch=self._epoch) if panic else None
        if state is BreakerState.HALF_OPEN:
            if self._probes_admitted < self._probe_budget():
                self._probes_admitted += 1
                if self.lease is not None:
                    self.lease.admitted += 1
                return Admission(probe=True, epoch=self._epoch)
            return Admission(probe=False, epoch=self._epoch) if panic else None
        if state is BreakerState.CLOSED and self._closed_at is not None:
            ramp = (self._clock() - self._closed_at) / self.settings.ramp_up_s
            if ramp >= 1.0:
                self._closed_at = None
            elif not panic and self._rng() > max(ramp, 0.1):
                return None
        return Admission(probe=False, epoch=self._epoch)

    def release(self, admission: Admission) -> None:
        """Give back an admission whose call ended with no outcome (cancelled by the
        client's deadline or disconnect): its probe slot goes to the next request."""
        if admission.probe and admission.epoch == self._epoch and self._probes_admitted:
            self._probes_admitted -= 1
            if self.lease is not None:
                self.lease.admitted = max(0, self.lease.admitted - 1)

    def record(self, *, success: bool, duration_s: float) -> None:
        state = self.state
        slow = duration_s >= self.settings.slow_call_s
        self.counts.successes += success
        self.counts.failures += not success
        self.counts.slow_calls += slow
        if state is BreakerState.HALF_OPEN:
            good = success and not slow
            self._probe_results.append(good)
            if self.lease is not None:
                self.lease.successes += good
                self.lease.failures += not good
            if len(self._probe_results) >= self._probe_budget():
                failures = self._probe_results.count(False) / len(self._probe_results)
                if failures >= self.settings.failure_rate_threshold:
                    self._open(backoff=True, local=True)
                else:
                    self._close(local=True)
            return
        if state is not BreakerState.CLOSED:
            return  # forced states and OPEN (a late reply) do not count
        self._window.append((success, slow))
        if len(self._window) < self.settings.minimum_calls:
            return
        n = len(self._window)
        failure_rate = sum(1 for ok, _ in self._window if not ok) / n
        slow_rate = sum(1 for _, s in self._window if s) / n
        if (
            failure_rate >= self.settings.failure_rate_threshold
            or slow_rate >= self.settings.slow_call_rate_threshold
        ):
            self._open(backoff=False, local=True)

    def probe_succeeded(self) -> bool:
        """An active health check reached the model: an OPEN breaker turns HALF_OPEN
        now instead of after its wait. True when it moved (or, when the fleet holds it,
        when the fleet was told: the control plane then ends its open wait and leases
        the probes, so fast recovery holds fleet-wide too)."""
        if self.state is not BreakerState.OPEN:
            return False
        if self._fleet_held:
            self.local_transitions = [
                *self.local_transitions[-15:],
                (BreakerState.OPEN, BreakerState.HALF_OPEN),
            ]
            return True  # the next report (every 0.25 s) carries it
        self._move(BreakerState.HALF_OPEN)
        return True

    def reconfigure(self, settings: BreakerSettings) -> None:
        """New thresholds from a new policy; recent outcomes are kept."""
        self.settings = settings
        self._window = deque(self._window, maxlen=settings.window_size)
        self._open_wait = min(max(self._open_wait, settings.open_wait_s), settings.max_open_wait_s)

    def force(self, state: BreakerState | None) -> None:
        """Operator override: FORCED_OPEN, FORCED_CLOSED, DRAINING, or None to release."""
        if state is None and self._fleet_held:
            # Back to what the fleet holds (a lease it held meanwhile lapses at the
            # control plane and goes to another router).
            self.lease = None
            self._opened_at = self._clock()
            self._move(BreakerState.OPEN)
        elif state is None:
            self._close()
        elif state in OPERATOR_STATES:
            self._move(state)
        else:
            raise ValueError("only FORCED_OPEN, FORCED_CLOSED, DRAINING or None can be forced")

    # --- the fleet view (services/router/fleet_breakers.py applies it) -------------------

    def hold_open(self) -> None:
        """The fleet holds the model OPEN (or leases its probes to another router)."""
        self._fleet_held = True
        self.lease = None
        if self._state in OPERATOR_STATES:
            return
        if self._state is not BreakerState.OPEN:
            self._opened_at = self._clock()
            self._move(BreakerState.OPEN)

    def grant_lease(self, lease_id: str, probes: int) -> None:
        """This router holds the fleet's probe budget: HALF_OPEN with `probes` slots."""
        self._fleet_held = True
        if self._state in OPERATOR_STATES or (
            self.lease is not None and self.lease.lease_id == lease_id
        ):
            return
        self.lease = LeaseProgress(lease_id, max(1, probes))
        self._move(BreakerState.HALF_OPEN)

    def release_to_fleet_closed(self) -> None:
        """The fleet decided the model recovered: close (ramping up) if still refusing."""
        held, self._fleet_held, self.lease = self._fleet_held, False, None
        if held and self._state in (BreakerState.OPEN, BreakerState.HALF_OPEN):
            self._close(ramp=True)

    def fleet_lost(self) -> None:
        """The control plane is gone: what the fleet held, this router now times alone."""
        if not self._fleet_held:
            return
        self._fleet_held = False
        self.lease = None
        if self._state is BreakerState.OPEN:
            self._opened_at = self._clock()

    def _open(self, *, backoff: bool, local: bool = False) -> None:
        if backoff:
            self._open_wait = min(self._open_wait * 2, self.settings.max_open_wait_s)
        else:
            self._open_wait = self.settings.open_wait_s
        self._opened_at = self._clock()
        self._move(BreakerState.OPEN, local=local)

    def _close(self, *, ramp: bool = False, local: bool = False) -> None:
        self._window.clear()
        ramping = ramp or self._state is BreakerState.HALF_OPEN
        self._closed_at = self._clock() if ramping else None
        self._move(BreakerState.CLOSED, local=local)

    def _move(self, new: BreakerState, *, local: bool = False) -> None:
        old = self._state
        self._state = new
        self._epoch += 1
        self._probes_admitted = 0
        self._probe_results = []
        if new is not BreakerState.CLOSED:
            self._window.clear()
        if old is not new and local:
            # Bounded: nobody drains it while the control plane is unreachable.
            self.local_transitions = [*self.local_transitions[-15:], (old, new)]
        if old is not new and self._on_transition is not None:
            self._on_transition(old, new)


class BreakerBoard:
    """One breaker per model, created on first use."""

    def __init__(
        self,
        settings: BreakerSettings = BreakerSettings(),
        *,
        clock: Callable[[], float] = time.monotonic,
        on_transition: Callable[[str, BreakerState, BreakerState], None] | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._on_transition = on_transition
        self._breakers: dict[str, Breaker] = {}
        self._overridden: set[str] = set()

    def get(self, model_id: str) -> Breaker:
        breaker = self._breakers.get(model_id)
        if breaker is None:
            callback = self._on_transition
            breaker = Breaker(
                self._settings,
                clock=self._clock,
                on_transition=(lambda old, new: callback(model_id, old, new)) if callback else None,
            )
            self._breakers[model_id] = breaker
        return breaker

    def last_states(self) -> list[tuple[str, BreakerState]]:
        """Each known model's `Breaker.last_state` (safe from a scrape thread)."""
        return [(model, b.last_state) for model, b in list(self._breakers.items())]

    def open_models(self) -> list[str]:
        """Models whose breaker is OPEN (not forced), on this router's own timer or held
        open by the fleet: a passed probe of a fleet-held one is reported, and the fleet
        starts its lease round at once (probes under a lease are HALF_OPEN, not here)."""
        return [m for m, b in self._breakers.items() if b.state is BreakerState.OPEN]

    def items(self) -> list[tuple[str, Breaker]]:
        return list(self._breakers.items())

    def configure(self, settings: BreakerSettings) -> None:
        if settings == self._settings:
            return
        self._settings = settings
        for breaker in self._breakers.values():
            breaker.reconfigure(settings)

    def apply_overrides(self, forced: dict[str, BreakerState]) -> None:
        """Operator overrides: force the listed models, release the ones no longer listed."""
        for model in self._overridden - forced.keys():
            self.get(model).force(None)
        for model, state in forced.items():
            if self.get(model).state is not state:
                self.get(model).force(state)
        self._overridden = set(forced)
