"""Fleet figures blended into a router's own estimates (services/router/estimates.py)."""

from __future__ import annotations

import pytest

from services.router.estimates import FLEET_WEIGHT, OutcomeEstimates
from switchyard.estimate_figures import EstimateFigure

KEY = ("m", "chat")


def fleet_figure(accepted: float, total: float, *, p50: float = 0, p95: float = 0, n: int = 0):
    return EstimateFigure(accepted, total, int(total), p50, p95, n)


def test_a_new_router_starts_from_the_fleet() -> None:
    """No outcomes here: the fleet's 90 of 100 against a 0.5 prior worth 10 → (5+90)/110."""
    estimates = OutcomeEstimates(prior_weight=10, decay=1.0)
    estimates.adopt_fleet({KEY: fleet_figure(90, 100)})
    assert estimates.acceptance("m", "chat", 0.5) == pytest.approx(95 / 110)
    assert estimates.estimate("m", "chat", 0.5).outcomes == 100
    assert estimates.acceptance("m", "math", 0.5) == 0.5  # other keys keep the prior


def test_the_fleet_is_worth_at_most_fleet_weight_outcomes() -> None:
    """10,000 fleet outcomes at 90 % count as FLEET_WEIGHT; own 100 rejections then
    pull the estimate well below the fleet's rate."""
    estimates = OutcomeEstimates(prior_weight=10, decay=1.0)
    estimates.adopt_fleet({KEY: fleet_figure(9000, 10_000)})
    for _ in range(100):
        estimates.record_stage("m", "chat", accepted=False)
    expected = (10 * 0.5 + 0.9 * FLEET_WEIGHT + 0) / (10 + FLEET_WEIGHT + 100)
    assert estimates.acceptance("m", "chat", 0.5) == pytest.approx(expected)
    assert estimates.acceptance("m", "chat", 0.5) < 0.5


def test_latency_blends_by_samples_and_a_new_router_uses_the_fleets() -> None:
    """Fleet p95 400 ms over 64 samples; none here: 400. With 64 of our own at 100: 250."""
    estimates = OutcomeEstimates()
    estimates.adopt_fleet({KEY: fleet_figure(1, 1, p50=200, p95=400, n=1000)})
    assert estimates.latency_percentile("m", "chat", 0.95) == 400
    assert estimates.latency_percentile("m", "chat", 0.5) == 200
    for _ in range(64):
        estimates.record_latency("m", "chat", 100.0)
    assert estimates.latency_percentile("m", "chat", 0.95) == pytest.approx(250)


def test_own_figures_are_what_the_router_reports() -> None:
    """figures() is this router's own counts, never the blended ones (no double count)."""
    estimates = OutcomeEstimates(decay=1.0)
    estimates.adopt_fleet({KEY: fleet_figure(50, 100)})
    estimates.record_stage("m", "chat", accepted=True)
    estimates.record_latency("m", "chat", 30.0)
    own = estimates.figures()[KEY]
    assert (own.accepted_weight, own.total_weight, own.outcomes) == (1.0, 1.0, 1)
    assert (own.latency_p50_ms, own.latency_samples) == (30.0, 1)
