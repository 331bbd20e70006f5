"""controlplane.estimates: routers' figures merged per key, each router excluded from its own."""

from __future__ import annotations

from controlplane.estimates import FleetEstimates
from switchyard.estimate_figures import EstimateFigure


def figure(accepted: float, total: float, p50: float = 100.0, samples: int = 10) -> EstimateFigure:
    return EstimateFigure(accepted, total, int(total), p50, p50 * 2, samples)


KEY = ("small", "chat")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_merge_sums_counts_and_weights_latency_by_samples() -> None:
    """Two other routers: counts add, p50 is the sample-weighted mean; self excluded."""
    fleet = FleetEstimates()
    fleet.report("r1", {KEY: figure(8, 10, p50=100, samples=30)})
    fleet.report("r2", {KEY: figure(2, 10, p50=200, samples=10)})
    fleet.report("r3", {KEY: figure(0, 50, p50=900, samples=50)})
    merged, routers = fleet.merged(excluding="r3")
    assert routers == 2
    got = merged[KEY]
    assert (got.accepted_weight, got.total_weight, got.outcomes) == (10, 20, 20)
    assert got.latency_p50_ms == 125.0 and got.latency_samples == 40


def test_a_report_replaces_the_routers_previous_one() -> None:
    """Figures are whole, not deltas: repeating a report changes nothing."""
    fleet = FleetEstimates()
    fleet.report("r1", {KEY: figure(5, 10)})
    revision = fleet.revision
    fleet.report("r1", {KEY: figure(5, 10)})
    assert fleet.revision == revision
    fleet.report("r1", {KEY: figure(9, 10)})
    assert fleet.merged()[0][KEY].accepted_weight == 9


def test_nonsense_figures_are_refused() -> None:
    """More accepted than total, or negative counts, never enter the merge."""
    fleet = FleetEstimates()
    refused = fleet.report("r1", {KEY: figure(11, 10), ("large", "chat"): figure(-1, 3)})
    assert refused == 2
    assert fleet.merged() == ({}, 0)


def test_routers_silent_past_the_ttl_stop_counting() -> None:
    """A router gone for ttl_s no longer contributes."""
    clock = Clock()
    fleet = FleetEstimates(ttl_s=10, clock=clock)
    fleet.report("r1", {KEY: figure(5, 10)})
    clock.now = 11
    fleet.report("r2", {KEY: figure(1, 10)})
    merged, routers = fleet.merged()
    assert routers == 1 and merged[KEY].accepted_weight == 1
