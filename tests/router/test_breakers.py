"""Circuit breaker state machine, driven by an injected clock."""

from __future__ import annotations

import pytest

from services.router.breakers import Breaker, BreakerSettings, BreakerState
from tests.router.fakes import Clock

SETTINGS = BreakerSettings(
    window_size=10,
    minimum_calls=5,
    failure_rate_threshold=0.5,
    open_wait_s=10,
    max_open_wait_s=40,
    half_open_calls=2,
    ramp_up_s=0.001,
)


def make(clock: Clock) -> Breaker:
    return Breaker(SETTINGS, clock=clock, rng=lambda: 0.0)


def test_stays_closed_below_minimum_calls() -> None:
    """Four failures out of four do not open a breaker that needs five calls to judge."""
    b = make(Clock())
    for _ in range(4):
        b.record(success=False, duration_s=0.01)
    assert b.state is BreakerState.CLOSED


def test_opens_at_minimum_calls_when_failure_rate_reached() -> None:
    """The fifth call brings the window to its minimum; 3/5 failures ≥ 50% opens it."""
    b = make(Clock())
    for ok in (True, False, True, False, False):
        b.record(success=ok, duration_s=0.01)
    assert b.state is BreakerState.OPEN
    assert not b.allow()


def test_slow_calls_open_the_breaker() -> None:
    """Calls slower than slow_call_s count toward the slow-call rate."""
    settings = BreakerSettings(
        window_size=5, minimum_calls=5, slow_call_s=1.0, slow_call_rate_threshold=0.6
    )
    b = Breaker(settings, clock=Clock())
    for _ in range(3):
        b.record(success=True, duration_s=2.0)
    for _ in range(2):
        b.record(success=True, duration_s=0.1)
    assert b.state is BreakerState.OPEN


def test_half_open_admits_only_the_probe_budget() -> None:
    """After the open wait, exactly half_open_calls probes are admitted."""
    clock = Clock()
    b = make(clock)
    for _ in range(5):
        b.record(success=False, duration_s=0.01)
    clock.now = 10.0
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow() and b.allow()
    assert not b.allow()


def test_successful_probes_close_and_failed_probes_reopen_with_backoff() -> None:
    """Good probes close the breaker; bad probes re-open it for twice as long."""
    clock = Clock()
    b = make(clock)
    for _ in range(5):
        b.record(success=False, duration_s=0.01)
    clock.now = 10.0
    b.allow(), b.allow()
    b.record(success=False, duration_s=0.01)
    b.record(success=False, duration_s=0.01)
    assert b.state is BreakerState.OPEN
    clock.now = 29.0
    assert b.state is BreakerState.OPEN  # waits 20 s now, not 10
    clock.now = 30.0
    assert b.state is BreakerState.HALF_OPEN
    b.allow(), b.allow()
    b.record(success=True, duration_s=0.01)
    b.record(success=True, duration_s=0.01)
    assert b.state is BreakerState.CLOSED


def test_recovered_breaker_ramps_traffic_up() -> None:
    """Right after closing, only a fraction of calls is admitted; later all are."""
    clock = Clock()
    settings = BreakerSettings(
        window_size=5, minimum_calls=5, open_wait_s=1, half_open_calls=1, ramp_up_s=10
    )
    draws = iter([0.5, 0.5])
    b = Breaker(settings, clock=clock, rng=lambda: next(draws))
    for _ in range(5):
        b.record(success=False, duration_s=0.01)
    clock.now = 1.0
    assert b.allow()
    b.record(success=True, duration_s=0.01)
    assert b.state is BreakerState.CLOSED
    clock.now = 2.0  # 10% into the ramp: a 0.5 draw is refused
    assert not b.allow()
    clock.now = 7.0  # 60% into the ramp: a 0.5 draw is admitted
    assert b.allow()
    clock.now = 12.0
    assert b.allow()


def test_forced_states_override_and_release() -> None:
    """Forced open refuses everything; forced closed admits everything; None releases."""
    b = make(Clock())
    b.force(BreakerState.FORCED_OPEN)
    assert not b.allow()
    b.force(BreakerState.FORCED_CLOSED)
    for _ in range(10):
        b.record(success=False, duration_s=0.01)
    assert b.allow() and b.state is BreakerState.FORCED_CLOSED
    b.force(None)
    assert b.state is BreakerState.CLOSED
    with pytest.raises(ValueError):
        b.force(BreakerState.OPEN)
