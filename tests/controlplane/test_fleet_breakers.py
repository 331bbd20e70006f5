"""controlplane.breakers: one router's opening opens the fleet; half-open is a lease."""

from __future__ import annotations

import itertools

from controlplane.breakers import BreakerTimings, FleetBreakers, ModelReport
from controlplane.fleet import Fleet
from controlplane.fleet_metrics import FleetCollector

TIMINGS = BreakerTimings(
    open_wait_s=1.0, max_open_wait_s=8.0, half_open_calls=3, failure_rate_threshold=0.5
)
ROUTERS = frozenset({"r1", "r2", "r3"})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fleet(clock: Clock, lease_s: float = 2.0) -> FleetBreakers:
    ids = (f"lease-{i}" for i in itertools.count(1))
    breakers = FleetBreakers(lease_s=lease_s, clock=clock, new_lease_id=lambda: next(ids))
    breakers.configure(TIMINGS)
    return breakers


def opened() -> ModelReport:
    return ModelReport("small", "open", transitions=(("closed", "open"),), failures=5)


def probes(lease_id: str, admitted: int, ok: int, bad: int) -> ModelReport:
    return ModelReport(
        "small",
        "half_open",
        lease_id=lease_id,
        probes_admitted=admitted,
        probe_successes=ok,
        probe_failures=bad,
    )


def test_one_routers_opening_opens_the_fleet_and_counts_are_kept() -> None:
    """A CLOSED→OPEN transition from one router makes the model OPEN for everyone."""
    clock = Clock()
    breakers = fleet(clock)
    breakers.report("r2", [ModelReport("small", "closed", successes=4)])
    assert breakers.get("small").state == "closed"
    revision = breakers.revision
    breakers.report("r1", [opened()])
    model = breakers.get("small")
    assert model.state == "open" and model.opened_by == "r1"
    assert breakers.revision > revision
    assert model.routers["r1"].failures == 5 and model.routers["r2"].successes == 4


def test_a_transition_not_from_closed_does_not_open() -> None:
    """HALF_OPEN→OPEN (a router's own failed probes) is no fresh opening."""
    breakers = fleet(Clock())
    breakers.report("r1", [ModelReport("small", "open", transitions=(("half_open", "open"),))])
    assert breakers.get("small").state == "closed"


def test_a_passed_health_probe_ends_the_fleets_open_wait_at_once() -> None:
    """A router's active health check reached the model (OPEN→HALF_OPEN in its report):
    the next tick leases the probes instead of waiting out the open wait."""
    clock = Clock()
    breakers = fleet(clock, lease_s=2.0)
    breakers.report("r1", [opened()])
    breakers.tick(ROUTERS)
    assert breakers.get("small").state == "open"
    breakers.report("r2", [ModelReport("small", "open", transitions=(("open", "half_open"),))])
    breakers.tick(ROUTERS)
    model = breakers.get("small")
    assert model.state == "half_open" and model.lease is not None
    assert clock.now < 100.0 + TIMINGS.open_wait_s  # well before the wait would end


def test_a_health_probe_report_does_not_open_a_closed_model() -> None:
    breakers = fleet(Clock())
    breakers.report("r1", [ModelReport("small", "closed", transitions=(("open", "half_open"),))])
    breakers.tick(ROUTERS)
    assert breakers.get("small").state == "closed"


def test_half_open_grants_the_budget_to_one_router_and_success_closes() -> None:
    """After the open wait one router gets all probes; their success closes the fleet."""
    clock = Clock()
    breakers = fleet(clock)
    breakers.report("r1", [opened()])
    clock.now += 0.5
    breakers.tick(ROUTERS)
    assert breakers.get("small").state == "open"  # the wait is the fleet's
    clock.now += 0.6
    breakers.tick(ROUTERS)
    model = breakers.get("small")
    assert model.state == "half_open"
    assert model.lease is not None and model.lease.probes == 3
    holder = model.lease.router_id
    breakers.report(holder, [probes("lease-1", 3, 3, 0)])
    assert breakers.get("small").state == "closed"


def test_failed_probes_reopen_with_a_doubled_wait() -> None:
    """A failure share at the threshold re-opens; the next wait is twice the last."""
    clock = Clock()
    breakers = fleet(clock)
    breakers.report("r1", [opened()])
    clock.now += 1.0
    breakers.tick(ROUTERS)
    lease = breakers.get("small").lease
    breakers.report(lease.router_id, [probes(lease.lease_id, 3, 1, 2)])
    model = breakers.get("small")
    assert model.state == "open" and model.open_wait_s == 2.0
    clock.now += 1.9
    breakers.tick(ROUTERS)
    assert breakers.get("small").state == "open"
    clock.now += 0.2
    breakers.tick(ROUTERS)
    assert breakers.get("small").state == "half_open"


def test_an_unreported_lease_expires_and_the_next_router_gets_what_is_left() -> None:
    """The holder used one probe and went quiet: the next router may send only two."""
    clock = Clock()
    breakers = fleet(clock, lease_s=2.0)
    breakers.report("r1", [opened()])
    clock.now += 1.0
    breakers.tick(ROUTERS)
    first = breakers.get("small").lease
    breakers.report(first.router_id, [probes(first.lease_id, 1, 1, 0)])
    clock.now += 1.9
    breakers.tick(ROUTERS)
    assert breakers.get("small").lease is first  # progress renewed it
    clock.now += 0.2
    breakers.tick(ROUTERS)
    second = breakers.get("small").lease
    assert second is not None and second.router_id != first.router_id
    assert second.probes == 2
    breakers.report(second.router_id, [probes(second.lease_id, 2, 2, 0)])
    assert breakers.get("small").state == "closed"  # 3 of 3 results, all good


def test_a_report_for_an_old_lease_or_from_another_router_changes_nothing() -> None:
    """Only the holder's report on the current lease counts towards the round."""
    clock = Clock()
    breakers = fleet(clock)
    breakers.report("r1", [opened()])
    clock.now += 1.0
    breakers.tick(ROUTERS)
    lease = breakers.get("small").lease
    other = next(r for r in sorted(ROUTERS) if r != lease.router_id)
    breakers.report(other, [probes(lease.lease_id, 3, 3, 0)])
    breakers.report(lease.router_id, [probes("lease-old", 3, 3, 0)])
    assert breakers.get("small").state == "half_open"
    # A holder cannot widen its budget by reporting more than it was granted.
    breakers.report(lease.router_id, [probes(lease.lease_id, 9, 1, 0)])
    assert breakers.get("small").lease.admitted == 3


def test_a_disconnected_holder_loses_the_lease_at_once() -> None:
    """The holder's stream closed: the next tick hands the budget on."""
    clock = Clock()
    breakers = fleet(clock)
    breakers.report("r1", [opened()])
    clock.now += 1.0
    breakers.tick(ROUTERS)
    holder = breakers.get("small").lease.router_id
    breakers.tick(ROUTERS - {holder})
    lease = breakers.get("small").lease
    assert lease is not None and lease.router_id != holder and lease.probes == 3


def test_a_round_whose_probes_all_vanished_counts_as_failed() -> None:
    """Every probe admitted, no result ever came: re-open rather than guess."""
    clock = Clock()
    breakers = fleet(clock)
    breakers.report("r1", [opened()])
    clock.now += 1.0
    breakers.tick(ROUTERS)
    lease = breakers.get("small").lease
    breakers.report(lease.router_id, [probes(lease.lease_id, 3, 0, 0)])
    clock.now += 2.1
    breakers.tick(ROUTERS)
    assert breakers.get("small").state == "open"


def test_no_connected_router_means_no_lease() -> None:
    """Half-open with nobody to probe: the budget waits for a router."""
    clock = Clock()
    breakers = fleet(clock)
    breakers.report("r1", [opened()])
    clock.now += 1.0
    breakers.tick(frozenset())
    model = breakers.get("small")
    assert model.state == "half_open" and model.lease is None
    breakers.tick(frozenset({"r2"}))
    assert breakers.get("small").lease.router_id == "r2"


def test_metrics_show_each_models_state_and_ignored_reports() -> None:
    """The collector reads the fleet at scrape time."""
    fleet = Fleet(connected=frozenset)
    fleet.breakers.report("r1", [opened()])
    fleet.ignore(router_id="r1", reason="stale_nonce")
    collector = FleetCollector()
    collector.source = fleet
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for metric in collector.collect()
        for s in metric.samples
    }
    state = "switchyard_controlplane_fleet_breaker_state"
    assert samples[(state, (("model", "small"), ("state", "open")))] == 1.0
    assert samples[(state, (("model", "small"), ("state", "closed")))] == 0.0
    ignored = "switchyard_controlplane_fleet_reports_ignored_total"
    assert samples[(ignored, (("reason", "stale_nonce"),))] == 1
