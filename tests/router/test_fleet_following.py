"""The router's side of fleet breakers: hold, lease, release, lose the fleet; reports."""

from __future__ import annotations

from services.router.breakers import BreakerBoard, BreakerSettings, BreakerState
from services.router.fleet_breakers import (
    LOCAL_STATES,
    BreakerReporter,
    apply_fleet_view,
    fleet_lost,
)
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from tests.router.fakes import Clock

SETTINGS = BreakerSettings(
    window_size=4, minimum_calls=4, open_wait_s=10, max_open_wait_s=40, half_open_calls=3
)
ME = "router-a"


def board(clock: Clock) -> BreakerBoard:
    return BreakerBoard(SETTINGS, clock=clock)


def view(state: int, *, lease_to: str = "", lease_id: str = "L1", probes: int = 2):
    breaker = pb.FleetBreaker(model_id="small", state=state)
    if lease_to:
        breaker.lease.CopyFrom(
            pb.BreakerLease(lease_id=lease_id, router_id=lease_to, probes=probes)
        )
    return pb.FleetBreakerView(revision=1, breakers=[breaker])


def fail(b: BreakerBoard, times: int) -> None:
    for _ in range(times):
        b.get("small").record(success=False, duration_s=0.01)


def test_a_fleet_open_refuses_here_and_outlasts_the_local_wait() -> None:
    """Held OPEN by the fleet: refused, no local HALF_OPEN after open_wait, not probed."""
    clock = Clock()
    breakers = board(clock)
    apply_fleet_view(breakers, view(pb.FLEET_BREAKER_STATE_OPEN), router_id=ME)
    breaker = breakers.get("small")
    assert breaker.state is BreakerState.OPEN and breaker.admit() is None
    clock.now += 60
    assert breaker.state is BreakerState.OPEN
    assert breaker.local_transitions == []  # the fleet's doing, not reported as ours


def test_a_passed_health_probe_of_a_fleet_held_model_is_reported_not_acted_on() -> None:
    """The prober still checks a fleet-held model; a pass stays OPEN here (the fleet
    decides) and goes in the next report as OPEN→HALF_OPEN, so the fleet leases now."""
    breakers = board(Clock())
    reporter = BreakerReporter(breakers)
    apply_fleet_view(breakers, view(pb.FLEET_BREAKER_STATE_OPEN), router_id=ME)
    reporter.reports()
    assert breakers.open_models() == ["small"]
    breaker = breakers.get("small")
    assert breaker.probe_succeeded()
    assert breaker.state is BreakerState.OPEN and breaker.admit() is None
    [report] = reporter.reports()
    assert [(t.from_state, t.to_state) for t in report.transitions] == [
        (LOCAL_STATES[BreakerState.OPEN], LOCAL_STATES[BreakerState.HALF_OPEN])
    ]


def test_a_lease_elsewhere_keeps_this_router_refusing() -> None:
    """HALF_OPEN with another router's lease is OPEN here."""
    breakers = board(Clock())
    apply_fleet_view(
        breakers, view(pb.FLEET_BREAKER_STATE_HALF_OPEN, lease_to="router-b"), router_id=ME
    )
    assert breakers.get("small").admit() is None


def test_a_lease_here_admits_exactly_its_probes_and_reports_them() -> None:
    """Our lease of 2: two probes admitted, a third refused; results go in the report."""
    breakers = board(Clock())
    reporter = BreakerReporter(breakers)
    apply_fleet_view(breakers, view(pb.FLEET_BREAKER_STATE_HALF_OPEN, lease_to=ME), router_id=ME)
    breaker = breakers.get("small")
    first, second = breaker.admit(), breaker.admit()
    assert first and first.probe and second and second.probe
    assert breaker.admit() is None
    breaker.record(success=True, duration_s=0.01)
    report = reporter.reports()[0]
    assert (report.lease_id, report.probes_admitted, report.probe_successes) == ("L1", 2, 1)
    # The same lease again (the view re-sent) does not refill the budget.
    apply_fleet_view(breakers, view(pb.FLEET_BREAKER_STATE_HALF_OPEN, lease_to=ME), router_id=ME)
    assert breaker.admit() is None


def test_fleet_closed_releases_a_held_breaker() -> None:
    """The fleet decided recovery: a held breaker closes here too."""
    breakers = board(Clock())
    apply_fleet_view(breakers, view(pb.FLEET_BREAKER_STATE_OPEN), router_id=ME)
    apply_fleet_view(breakers, pb.FleetBreakerView(revision=2), router_id=ME)
    assert breakers.get("small").state is BreakerState.CLOSED
    assert not breakers.get("small").fleet_held


def test_losing_the_control_plane_hands_back_local_timing() -> None:
    """Control plane gone: the held breaker stays OPEN, then half-opens on its own timer."""
    clock = Clock()
    breakers = board(clock)
    apply_fleet_view(breakers, view(pb.FLEET_BREAKER_STATE_OPEN), router_id=ME)
    clock.now += 30
    fleet_lost(breakers)
    breaker = breakers.get("small")
    assert breaker.state is BreakerState.OPEN
    assert breakers.open_models() == ["small"]  # the local prober may help again
    clock.now += SETTINGS.open_wait_s
    assert breaker.state is BreakerState.HALF_OPEN


def test_operator_overrides_win_over_the_fleet() -> None:
    """FORCED_CLOSED stays forced whatever the fleet view says."""
    breakers = board(Clock())
    breakers.apply_overrides({"small": BreakerState.FORCED_CLOSED})
    apply_fleet_view(breakers, view(pb.FLEET_BREAKER_STATE_OPEN), router_id=ME)
    assert breakers.get("small").state is BreakerState.FORCED_CLOSED


def test_removing_an_override_returns_to_what_the_fleet_holds() -> None:
    """Forced closed while the fleet held it open; the override goes: OPEN again."""
    breakers = board(Clock())
    breakers.apply_overrides({"small": BreakerState.FORCED_CLOSED})
    apply_fleet_view(breakers, view(pb.FLEET_BREAKER_STATE_OPEN), router_id=ME)
    breakers.apply_overrides({})
    assert breakers.get("small").state is BreakerState.OPEN


def test_reports_carry_local_openings_and_count_deltas_only_when_changed() -> None:
    """Our own failures open the breaker: one report with the transition and 4 failures;
    with nothing new, no report; the next one carries only the new calls."""
    breakers = board(Clock())
    reporter = BreakerReporter(breakers)
    fail(breakers, 4)
    (report,) = reporter.reports()
    assert report.state == pb.LOCAL_BREAKER_STATE_OPEN
    assert [(t.from_state, t.to_state) for t in report.transitions] == [
        (pb.LOCAL_BREAKER_STATE_CLOSED, pb.LOCAL_BREAKER_STATE_OPEN)
    ]
    assert report.failures == 4
    assert reporter.reports() == []
    breakers.get("large").record(success=True, duration_s=0.01)
    (report,) = reporter.reports()
    assert report.model_id == "large" and report.successes == 1 and not report.transitions
    reporter.restart()
    assert {r.model_id for r in reporter.reports()} == {"small", "large"}


def test_a_new_stream_reports_a_still_open_breaker_and_forgets_old_transitions() -> None:
    """Transitions from while the control plane was away are dropped; a breaker still
    OPEN on its own is reported as CLOSED→OPEN so the fleet opens it."""
    breakers = board(Clock())
    reporter = BreakerReporter(breakers)
    fail(breakers, 4)  # small opens, nobody reports it
    breakers.get("large").force(BreakerState.FORCED_OPEN)
    breakers.get("large").force(None)
    reporter.restart()
    reports = {r.model_id: r for r in reporter.reports()}
    assert [(t.from_state, t.to_state) for t in reports["small"].transitions] == [
        (pb.LOCAL_BREAKER_STATE_CLOSED, pb.LOCAL_BREAKER_STATE_OPEN)
    ]
    assert not reports["large"].transitions


def test_drain_refuses_but_panic_may_still_use_it() -> None:
    """DRAINING: no ordinary admission; a panic admission goes through (unlike FORCED_OPEN)."""
    breakers = board(Clock())
    breakers.apply_overrides({"small": BreakerState.DRAINING})
    breaker = breakers.get("small")
    assert breaker.admit() is None
    assert breaker.admit(panic=True) is not None
    breakers.apply_overrides({"small": BreakerState.FORCED_OPEN})
    assert breaker.admit(panic=True) is None


def test_a_released_lease_probe_returns_its_slot_to_the_lease() -> None:
    """A probe admitted under our lease and then released (cancelled) is no longer
    counted as admitted, so the slot can be used again; releasing never goes below 0."""
    breaker = board(Clock()).get("small")
    breaker.grant_lease("L1", 1)
    assert breaker.fleet_held is True and breaker.state is BreakerState.HALF_OPEN
    first = breaker.admit()
    assert first is not None and breaker.lease is not None and breaker.lease.admitted == 1
    assert breaker.admit() is None  # the budget of one is in use
    breaker.release(first)
    assert breaker.lease.admitted == 0
    again = breaker.admit()
    assert again is not None and again.probe and breaker.lease.admitted == 1


def test_lease_outcomes_are_counted_for_the_fleet() -> None:
    breaker = board(Clock()).get("small")
    breaker.grant_lease("L1", 3)
    assert breaker.admit() is not None
    breaker.record(success=True, duration_s=0.01)
    assert breaker.admit() is not None
    breaker.record(success=False, duration_s=0.01)
    assert breaker.lease is not None
    assert (breaker.lease.admitted, breaker.lease.successes, breaker.lease.failures) == (2, 1, 1)


def test_a_lease_of_zero_probes_still_allows_one() -> None:
    breaker = board(Clock()).get("small")
    breaker.grant_lease("L1", 0)
    assert breaker.lease is not None and breaker.lease.probes == 1
    assert breaker.admit() is not None and breaker.admit() is None


def test_fleet_closed_leaves_a_breaker_the_fleet_never_held_alone() -> None:
    """Only a held breaker is closed by the fleet's CLOSED; a router's own OPEN stays."""
    clock = Clock()
    breakers = board(clock)
    fail(breakers, 4)
    breaker = breakers.get("small")
    assert breaker.state is BreakerState.OPEN and not breaker.fleet_held
    breaker.release_to_fleet_closed()
    assert breaker.state is BreakerState.OPEN


def test_failed_lease_probes_reopen_as_this_routers_own_transition() -> None:
    """Our lease's probes failing re-opens the breaker here, reported as our transition."""
    breakers = board(Clock())
    reporter = BreakerReporter(breakers)
    breaker = breakers.get("small")
    breaker.grant_lease("L1", 1)
    reporter.reports()
    assert breaker.admit() is not None
    breaker.record(success=False, duration_s=0.01)
    assert breaker.state is BreakerState.OPEN
    assert (BreakerState.HALF_OPEN, BreakerState.OPEN) in breaker.local_transitions


def test_repeated_health_passes_keep_the_transition_list_bounded() -> None:
    breakers = board(Clock())
    apply_fleet_view(breakers, view(pb.FLEET_BREAKER_STATE_OPEN), router_id=ME)
    breaker = breakers.get("small")
    for _ in range(40):
        assert breaker.probe_succeeded()
    assert len(breaker.local_transitions) == 16
    assert set(breaker.local_transitions) == {(BreakerState.OPEN, BreakerState.HALF_OPEN)}
