"""APGR, CPT and AIQ against values worked out by hand on small fixtures."""

from __future__ import annotations

import math

import pytest

from switchyard.learning.metrics import (
    CostQuality,
    aiq,
    apgr,
    cost_range,
    cpt,
    escalation_curve,
    hull_quality,
    pgr,
    quality_hull,
)

# Four prompts. Weak is right on #0 only (quality 1/4); strong on #0, #1, #2 (3/4).
WEAK = [1.0, 0.0, 0.0, 0.0]
STRONG = [1.0, 1.0, 1.0, 0.0]


def test_escalation_curve_by_hand() -> None:
    """Scores 0.9, 0.1, 0.5, 0.2 escalate #1, #3, #2, #0 in that order.

    strong fraction  quality                      PGR = (q - 0.25) / 0.5
    0                0.25                         0
    1/4  (#1)        0.25 + 1/4 = 0.50            0.5
    2/4  (#3)        0.50 (strong is wrong too)   0.5
    3/4  (#2)        0.75                         1
    1    (#0)        0.75 (both right)            1
    APGR = 1/4 · [(0+.5)/2 + (.5+.5)/2 + (.5+1)/2 + (1+1)/2] = 1/4 · 2.5 = 0.625
    CPT(50 %) = 1/4; CPT(80 %): between (2/4, .5) and (3/4, 1): 2/4 + 1/4 · .3/.5 = 0.65
    """
    report = escalation_curve([0.9, 0.1, 0.5, 0.2], WEAK, STRONG)
    assert (report.weak_quality, report.strong_quality) == (0.25, 0.75)
    assert [p.pgr for p in report.curve] == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert report.apgr == pytest.approx(0.625)
    assert report.cpt50 == pytest.approx(0.25)
    assert report.cpt(0.8) == pytest.approx(0.65)


def test_escalation_curve_ties_cross_together() -> None:
    """Scores 0.9, 0.1, 0.5, 0.5: #2 and #3 share a score, so they escalate together.

    points (0, 0), (1/4, .5), (3/4, 1), (1, 1)
    APGR = 1/4 · (0+.5)/2 + 2/4 · (.5+1)/2 + 1/4 · (1+1)/2 = .0625 + .375 + .25 = 0.6875
    CPT(80 %) = 1/4 + 2/4 · (.8-.5)/(1-.5) = 0.55
    """
    report = escalation_curve([0.9, 0.1, 0.5, 0.5], WEAK, STRONG)
    assert [p.strong_fraction for p in report.curve] == [0.0, 0.25, 0.75, 1.0]
    assert report.apgr == pytest.approx(0.6875)
    assert report.cpt(0.8) == pytest.approx(0.55)


def test_apgr_and_cpt_anchor_a_partial_curve() -> None:
    """One measured point (x .5, PGR .8) is closed by always-weak and always-strong.

    APGR = .5 · (0+.8)/2 + .5 · (.8+1)/2 = .2 + .45 = 0.65
    CPT(50 %) = .5 · .5/.8 = 0.3125; CPT(90 %) = .5 + .5 · (.9-.8)/(1-.8) = 0.75
    """
    assert apgr([(0.5, 0.8)]) == pytest.approx(0.65)
    assert cpt([(0.5, 0.8)], 0.5) == pytest.approx(0.3125)
    assert cpt([(0.5, 0.8)], 0.9) == pytest.approx(0.75)


def test_random_router_line() -> None:
    """The straight line from always-weak to always-strong: APGR 0.5, CPT(x) = x."""
    line = [(0.0, 0.0), (1.0, 1.0)]
    assert apgr(line) == pytest.approx(0.5)
    assert cpt(line, 0.5) == pytest.approx(0.5)
    assert cpt(line, 0.8) == pytest.approx(0.8)


def test_cpt_is_nan_when_never_reached() -> None:
    """A curve that ends at x = 1 below the target has no CPT."""
    assert math.isnan(cpt([(0.0, 0.0), (1.0, 0.4)], 0.5))


def test_pgr_needs_a_gap() -> None:
    """Without a quality gap PGR is undefined: a clear error."""
    assert pgr(0.5, weak=0.25, strong=0.75) == 0.5
    with pytest.raises(ValueError):
        pgr(0.5, weak=0.6, strong=0.6)


# Three models: A cheap and weak, B mid, C costly and best. Costs in µUSD per request.
A, B, C = CostQuality(1, 0.5), CostQuality(2, 0.8), CostQuality(4, 0.9)


def test_aiq_three_models_by_hand() -> None:
    """The hull of A(1, .5), B(2, .8), C(4, .9) over the costs [1, 4].

    Slopes: A→B 0.3, B→C 0.05, decreasing, so all three are hull vertices.
    area = (.5+.8)/2 · 1 + (.8+.9)/2 · 2 = 0.65 + 1.7 = 2.35
    AIQ = 2.35 / (4 - 1) = 0.78333
    Each model alone, on the same range (0 below its cost, flat after):
    A: .5 · 3/3 = 0.5;  B: .8 · 2/3 = 0.53333;  C: .9 · 0/3 = 0
    """
    assert quality_hull([C, A, B]) == (A, B, C)
    assert aiq([A, B, C], cost_low=1, cost_high=4) == pytest.approx(2.35 / 3)
    assert aiq([A], cost_low=1, cost_high=4) == pytest.approx(0.5)
    assert aiq([B], cost_low=1, cost_high=4) == pytest.approx(1.6 / 3)
    assert aiq([C], cost_low=1, cost_high=4) == pytest.approx(0.0)


def test_aiq_ignores_dominated_points() -> None:
    """D(3, .82) lies under the chord B→C (.85 at cost 3) and E(3.5, .6) is worse than
    the cheaper B: neither is on the hull, so AIQ stays 2.35 / 3."""
    d, e = CostQuality(3, 0.82), CostQuality(3.5, 0.6)
    assert quality_hull([A, B, C, d, e]) == (A, B, C)
    assert aiq([A, B, C, d, e], cost_low=1, cost_high=4) == pytest.approx(2.35 / 3)


def test_aiq_drops_a_point_under_the_chord() -> None:
    """G(2, .6) is under the chord A→C (.5 + .4/3 = .6333 at cost 2): the hull is A, C.
    area = (.5+.9)/2 · 3 = 2.1, AIQ = 2.1 / 3 = 0.7."""
    g = CostQuality(2, 0.6)
    assert quality_hull([A, g, C]) == (A, C)
    assert aiq([A, g, C], cost_low=1, cost_high=4) == pytest.approx(0.7)


def test_aiq_extends_flat_to_the_maximum_cost() -> None:
    """A curve A(1, .5), F(3, .86) in a report whose costliest point is at 4:
    area = (.5+.86)/2 · 2 + .86 · 1 = 1.36 + .86 = 2.22, AIQ = 2.22 / 3 = 0.74."""
    f = CostQuality(3, 0.86)
    assert hull_quality(quality_hull([A, f]), 3.5) == pytest.approx(0.86)
    assert aiq([A, f], cost_low=1, cost_high=4) == pytest.approx(0.74)


def test_cost_range_spans_every_row() -> None:
    """The shared range runs from the cheapest to the costliest point of any row."""
    assert cost_range([[A, B], [C], [CostQuality(0.5, 0.1)]]) == (0.5, 4)
    assert hull_quality(quality_hull([B, C]), 1.5) == 0.0  # nothing below the cheapest


def test_escalation_curve_costs_by_hand() -> None:
    """With weak calls at 1 and strong at 10 per item, a cascade pays every weak call
    plus the strong calls escalated so far: mean cost 1, then 1 + 10·k/4 at k escalated."""
    report = escalation_curve(
        [0.9, 0.1, 0.5, 0.2], WEAK, STRONG, weak_cost=[1] * 4, strong_cost=[10] * 4
    )
    assert [p.cost for p in report.curve] == [1.0, 3.5, 6.0, 8.5, 11.0]
