"""Circuit breaker state machine, driven by an injected clock."""

from __future__ import annotations

import pytest

from services.router.breakers import Breaker, BreakerBoard, BreakerSettings, BreakerState
from switchyard.policy import BreakerPolicy
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


def test_settings_from_policy_convert_milliseconds_to_seconds() -> None:
    """A policy's breaker section becomes settings field by field, durations in seconds."""
    policy = BreakerPolicy(
        window_size=30,
        minimum_calls=5,
        failure_rate_threshold=0.4,
        slow_call_rate_threshold=0.9,
        slow_call_ms=1500,
        open_wait_ms=2000,
        max_open_wait_ms=4000,
        half_open_calls=2,
        ramp_up_ms=3000,
    )
    assert BreakerSettings.from_policy(policy) == BreakerSettings(
        window_size=30,
        minimum_calls=5,
        failure_rate_threshold=0.4,
        slow_call_rate_threshold=0.9,
        slow_call_s=1.5,
        open_wait_s=2.0,
        max_open_wait_s=4.0,
        half_open_calls=2,
        ramp_up_s=3.0,
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"window_size": 5, "minimum_calls": 0}, "minimum_calls must be in 1..window_size"),
        ({"window_size": 5, "minimum_calls": 6}, "minimum_calls must be in 1..window_size"),
        ({"half_open_calls": 0}, "half_open_calls must be >= 1"),
    ],
)
def test_settings_refuse_impossible_values(fields: dict, message: str) -> None:
    """minimum_calls outside 1..window_size and half_open_calls below 1 are refused."""
    with pytest.raises(ValueError, match=f"^{message}$"):
        BreakerSettings(**fields)


def test_settings_accept_their_edges() -> None:
    """minimum_calls of 1 or of the whole window, and one probe, are valid."""
    BreakerSettings(window_size=5, minimum_calls=1, half_open_calls=1)
    BreakerSettings(window_size=5, minimum_calls=5)


def record(b: Breaker, outcomes: str, duration_s: float = 0.01) -> None:
    """Record a run of outcomes: S success, F failure."""
    for outcome in outcomes:
        b.record(success=outcome == "S", duration_s=duration_s)


def test_failure_rate_exactly_at_the_threshold_opens() -> None:
    """2 failures in 4 calls is a 50% rate: at a 0.5 threshold the breaker opens; 1 in 4
    does not."""
    settings = BreakerSettings(window_size=4, minimum_calls=4, failure_rate_threshold=0.5)
    below = Breaker(settings, clock=Clock())
    record(below, "SSSF")
    assert below.state is BreakerState.CLOSED
    at = Breaker(settings, clock=Clock())
    record(at, "SSFF")
    assert at.state is BreakerState.OPEN


def test_the_window_slides_over_the_last_calls() -> None:
    """Only the last window_size calls count: old successes fall out of the window."""
    settings = BreakerSettings(window_size=4, minimum_calls=4, failure_rate_threshold=0.75)
    b = Breaker(settings, clock=Clock())
    record(b, "SSSSFF")  # window SSFF: 50%
    assert b.state is BreakerState.CLOSED
    record(b, "F")  # window SFFF: 75%
    assert b.state is BreakerState.OPEN


def test_a_call_exactly_slow_call_s_long_is_slow() -> None:
    """A call lasting exactly slow_call_s counts as slow."""
    settings = BreakerSettings(
        window_size=2, minimum_calls=2, slow_call_s=1.0, slow_call_rate_threshold=1.0
    )
    b = Breaker(settings, clock=Clock())
    record(b, "SS", duration_s=1.0)
    assert b.state is BreakerState.OPEN
    fast = Breaker(settings, clock=Clock())
    record(fast, "SS", duration_s=0.999)
    assert fast.state is BreakerState.CLOSED


def opened(clock: Clock, settings: BreakerSettings = SETTINGS, **kw) -> Breaker:
    b = Breaker(settings, clock=clock, rng=lambda: 0.0, **kw)
    record(b, "FFFFF")
    assert b.state is BreakerState.OPEN
    return b


def test_open_turns_half_open_exactly_after_the_wait() -> None:
    """The breaker stays OPEN until open_wait_s has passed, then turns HALF_OPEN."""
    clock = Clock()
    b = opened(clock)
    clock.now = 9.999
    assert b.state is BreakerState.OPEN and not b.allow()
    clock.now = 10.0
    assert b.state is BreakerState.HALF_OPEN


def test_probe_rounds_at_the_failure_threshold_reopen() -> None:
    """Half the probes failing meets a 0.5 threshold: the breaker re-opens; a slow probe
    counts as a failure."""
    clock = Clock()
    b = opened(clock)
    clock.now = 10.0
    assert b.allow() and b.allow()
    b.record(success=True, duration_s=0.01)
    b.record(success=False, duration_s=0.01)
    assert b.state is BreakerState.OPEN
    slow = Breaker(
        BreakerSettings(window_size=1, minimum_calls=1, half_open_calls=1, slow_call_s=1.0),
        clock=clock,
    )
    clock.now = 100.0
    slow.record(success=False, duration_s=0.01)
    clock.now = 105.0
    assert slow.allow()
    slow.record(success=True, duration_s=1.0)
    assert slow.state is BreakerState.OPEN


def test_probe_results_are_counted_only_at_the_end_of_the_round() -> None:
    """One good probe of two does not decide anything yet."""
    clock = Clock()
    b = opened(clock)
    clock.now = 10.0
    b.allow()
    b.record(success=True, duration_s=0.01)
    assert b.state is BreakerState.HALF_OPEN


def test_open_wait_doubles_up_to_the_cap_and_resets_after_closing() -> None:
    """Each failed probe round doubles the wait (10, 20, 40, then capped at 40); after the
    breaker closes, the next opening waits open_wait_s again."""
    clock = Clock()
    b = opened(clock)
    waits = []
    for _ in range(4):
        opened_at = clock.now
        while b.state is BreakerState.OPEN:
            clock.now += 1.0
        waits.append(clock.now - opened_at)
        b.allow(), b.allow()
        record(b, "FF")
    assert waits == [10.0, 20.0, 40.0, 40.0]
    while b.state is BreakerState.OPEN:
        clock.now += 1.0
    b.allow(), b.allow()
    record(b, "SS")
    assert b.state is BreakerState.CLOSED
    clock.now += 100.0  # past the ramp
    record(b, "FFFFF")
    opened_at = clock.now
    while b.state is BreakerState.OPEN:
        clock.now += 1.0
    assert clock.now - opened_at == 10.0


def ramping(draw: float, *, at: float) -> bool:
    """Does a breaker `at` seconds into a 10 s ramp admit a call with random draw `draw`?"""
    clock = Clock()
    settings = BreakerSettings(
        window_size=1, minimum_calls=1, open_wait_s=1, half_open_calls=1, ramp_up_s=10
    )
    b = Breaker(settings, clock=clock, rng=lambda: draw)
    b.record(success=False, duration_s=0.01)
    clock.now = 1.0
    assert b.allow()
    b.record(success=True, duration_s=0.01)
    assert b.state is BreakerState.CLOSED
    clock.now = 1.0 + at
    return b.allow()


@pytest.mark.parametrize(
    ("draw", "at", "admitted"),
    [
        (0.1, 0.0, True),  # the ramp starts at 10%
        (0.11, 0.0, False),
        (0.5, 5.0, True),  # halfway: 50%
        (0.51, 5.0, False),
        (0.999, 10.0, True),  # ramp over: everything
    ],
)
def test_ramp_up_admits_a_growing_share(draw: float, at: float, admitted: bool) -> None:
    """After closing, a call is admitted when the draw is at most the ramp fraction (at
    least 10%); once ramp_up_s has passed, every call is."""
    assert ramping(draw, at=at) is admitted


def test_after_the_ramp_every_call_is_admitted_for_good() -> None:
    """Once the ramp is over it stays over, whatever the draws."""
    clock = Clock()
    draws = iter([0.0, 0.999, 0.999])
    settings = BreakerSettings(
        window_size=1, minimum_calls=1, open_wait_s=1, half_open_calls=1, ramp_up_s=10
    )
    b = Breaker(settings, clock=clock, rng=lambda: next(draws))
    b.record(success=False, duration_s=0.01)
    clock.now = 1.0
    b.allow()
    b.record(success=True, duration_s=0.01)
    clock.now = 11.0
    assert b.allow()
    clock.now = 11.5
    assert b.allow()


def test_released_override_does_not_ramp() -> None:
    """Releasing an operator override closes without a ramp: every call is admitted."""
    b = Breaker(SETTINGS, clock=Clock(), rng=lambda: 0.999)
    b.force(BreakerState.FORCED_OPEN)
    b.force(None)
    assert b.state is BreakerState.CLOSED and b.allow()


def test_forced_closed_ignores_outcomes() -> None:
    """Failures recorded while forced closed neither open it nor count after release."""
    b = Breaker(SETTINGS, clock=Clock())
    b.force(BreakerState.FORCED_CLOSED)
    record(b, "FFFFFFFFFF")
    assert b.state is BreakerState.FORCED_CLOSED
    b.force(None)
    record(b, "FFFF")
    assert b.state is BreakerState.CLOSED


def test_open_breaker_ignores_late_replies() -> None:
    """A reply recorded while OPEN (a call that started before) changes nothing."""
    clock = Clock()
    b = opened(clock)
    record(b, "SSSSS")
    clock.now = 9.0
    assert b.state is BreakerState.OPEN


def test_transitions_are_reported_once_each() -> None:
    """on_transition hears every change of state, old and new, and nothing else."""
    clock = Clock()
    seen: list[tuple[BreakerState, BreakerState]] = []
    b = opened(clock, on_transition=lambda old, new: seen.append((old, new)))
    clock.now = 10.0
    b.allow(), b.allow()
    record(b, "SS")
    b.force(BreakerState.FORCED_OPEN)
    b.force(BreakerState.FORCED_OPEN)
    b.force(None)
    b.force(None)
    assert seen == [
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED),
        (BreakerState.CLOSED, BreakerState.FORCED_OPEN),
        (BreakerState.FORCED_OPEN, BreakerState.CLOSED),
    ]


def test_forcing_open_forgets_the_window() -> None:
    """Outcomes recorded before an override do not count after its release."""
    b = Breaker(SETTINGS, clock=Clock())
    record(b, "FFFF")
    b.force(BreakerState.FORCED_OPEN)
    b.force(None)
    record(b, "F")
    assert b.state is BreakerState.CLOSED


def test_only_forced_states_can_be_forced() -> None:
    """force() takes FORCED_OPEN, FORCED_CLOSED, DRAINING or None and says so otherwise."""
    b = Breaker(SETTINGS, clock=Clock())
    for state in (BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED):
        with pytest.raises(
            ValueError, match=r"^only FORCED_OPEN, FORCED_CLOSED, DRAINING or None can be forced$"
        ):
            b.force(state)


def test_reconfigure_keeps_recent_outcomes_in_the_new_window() -> None:
    """New settings keep the last outcomes (as many as the new window holds) and judge them
    by the new thresholds."""
    b = Breaker(SETTINGS, clock=Clock())
    record(b, "SSFF")
    b.reconfigure(BreakerSettings(window_size=3, minimum_calls=3, failure_rate_threshold=0.7))
    assert b.state is BreakerState.CLOSED
    record(b, "F")  # the kept window SFF becomes FFF: 100% (5 kept calls would be 60%)
    assert b.state is BreakerState.OPEN


def test_reconfigure_bounds_the_current_open_wait() -> None:
    """A breaker that backed off to 40 s keeps it under a policy allowing it, and drops to
    the new cap when the new policy's cap is lower."""
    clock = Clock()
    b = opened(clock)
    for wait in (10.0, 20.0):
        clock.now += wait
        b.allow(), b.allow()
        record(b, "FF")
    # now waiting 40 s
    b.reconfigure(BreakerSettings(open_wait_s=5, max_open_wait_s=15, half_open_calls=2))
    started = clock.now
    clock.now = started + 14.0
    assert b.state is BreakerState.OPEN
    clock.now = started + 15.0
    assert b.state is BreakerState.HALF_OPEN
    other = Clock()
    raised = opened(other)
    raised.reconfigure(BreakerSettings(open_wait_s=30, max_open_wait_s=60, half_open_calls=2))
    other.now = 29.0
    assert raised.state is BreakerState.OPEN
    other.now = 30.0
    assert raised.state is BreakerState.HALF_OPEN


def test_board_keeps_one_breaker_per_model_with_its_settings() -> None:
    """The board creates a model's breaker on first use, with the board's settings and
    clock, and returns the same one afterwards; transitions name the model."""
    clock = Clock()
    seen: list[tuple[str, BreakerState, BreakerState]] = []
    board = BreakerBoard(SETTINGS, clock=clock, on_transition=lambda *t: seen.append(t))
    small = board.get("small")
    assert board.get("small") is small and board.get("large") is not small
    assert small.settings is SETTINGS
    record(small, "FFFFF")
    clock.now = 10.0
    assert small.state is BreakerState.HALF_OPEN  # the board's clock
    assert seen == [
        ("small", BreakerState.CLOSED, BreakerState.OPEN),
        ("small", BreakerState.OPEN, BreakerState.HALF_OPEN),
    ]


def test_board_configure_reaches_every_breaker() -> None:
    """New settings reach existing breakers and those created later."""
    board = BreakerBoard(SETTINGS, clock=Clock())
    existing = board.get("small")
    new = BreakerSettings(window_size=2, minimum_calls=2)
    board.configure(new)
    assert existing.settings == new and board.get("large").settings == new


def test_board_overrides_force_and_release() -> None:
    """apply_overrides forces the listed models and releases the ones no longer listed."""
    board = BreakerBoard(SETTINGS, clock=Clock())
    board.apply_overrides({"a": BreakerState.FORCED_OPEN, "b": BreakerState.FORCED_CLOSED})
    assert board.get("a").state is BreakerState.FORCED_OPEN
    assert board.get("b").state is BreakerState.FORCED_CLOSED
    board.apply_overrides({"b": BreakerState.FORCED_OPEN})
    assert board.get("a").state is BreakerState.CLOSED
    assert board.get("b").state is BreakerState.FORCED_OPEN
    board.apply_overrides({})
    assert board.get("b").state is BreakerState.CLOSED


def test_a_minority_of_failed_probes_closes() -> None:
    """One failed probe of three is a 33% rate, under a 0.5 threshold: the breaker closes."""
    clock = Clock()
    settings = BreakerSettings(window_size=1, minimum_calls=1, open_wait_s=1, half_open_calls=3)
    b = Breaker(settings, clock=clock)
    record(b, "F")
    clock.now = 1.0
    assert b.allow() and b.allow() and b.allow()
    record(b, "SFS")
    assert b.state is BreakerState.CLOSED


def test_slow_call_rate_below_its_threshold_stays_closed() -> None:
    """One slow call of two is a 50% slow rate: under a 1.0 threshold nothing opens."""
    settings = BreakerSettings(
        window_size=2, minimum_calls=2, slow_call_s=1.0, slow_call_rate_threshold=1.0
    )
    b = Breaker(settings, clock=Clock())
    b.record(success=True, duration_s=2.0)
    b.record(success=True, duration_s=0.1)
    assert b.state is BreakerState.CLOSED
