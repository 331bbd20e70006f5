"""Routing-quality metrics: PGR, APGR, CPT(x) and AIQ (docs/evaluation.md).

Two-model metrics follow RouteLLM (arXiv 2406.18665). Between a weak (cheaper) and a
strong model, a router is a curve of operating points: x = the fraction of requests on
which the strong model was called, y = mean quality. PGR normalises y so that
always-weak = 0 and always-strong = 1:

    PGR = (quality - quality_weak) / (quality_strong - quality_weak)

APGR is the area under PGR(x) over x in [0, 1] by the trapezoid rule, with the curve
anchored at always-weak (0, 0) and always-strong (1, 1) when it does not reach them; a
random router scores 0.5. CPT(t) is the smallest strong-call fraction at which that
same piecewise-linear curve reaches PGR = t (between two measured points, mixing their
settings at random achieves the line); a random router needs CPT(t) = t.

AIQ (RouterBench, arXiv 2403.12031) works for any number of models: x = cost per
request, y = mean quality. The achievable set of a strategy is its points plus every
random mixture of two of them, so its frontier is the upper convex hull of the points,
taken non-decreasing from the cheapest point (a costlier point that is no better is
dominated) and extended flat beyond the costliest. Below the cheapest point nothing is
achievable: the frontier is 0 there. Over the cost range [c_lo, c_hi] of the single
models (c_lo = always-cheapest's cost per request, c_hi = always-costliest's):

    AIQ = (1 / (c_hi - c_lo)) · ∫_{c_lo}^{c_hi} H(c) dc

So the x origin is the cheapest model's cost: always-cheapest scores its own quality,
a model that costs c scores quality · (c_hi - c) / (c_hi - c_lo), and AIQ is the mean
quality a strategy reaches over the budgets between the cheapest and the costliest
model. The range depends only on the dataset and the fleet prices, so AIQs of one
dataset and fleet compare across runs; spend beyond c_hi earns nothing.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Comparisons of measured fractions tolerate float noise from summing many items.
EPSILON = 1e-12


# -- two models: PGR, APGR, CPT --------------------------------------------------------


def pgr(quality: float, *, weak: float, strong: float) -> float:
    """Performance gap recovered: 0 at the weak model's quality, 1 at the strong one's."""
    gap = strong - weak
    if gap <= 0:
        raise ValueError("the strong model is not better than the weak one on this data")
    return (quality - weak) / gap


def _anchored(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """(strong_fraction, pgr) points sorted by x, closed at (0, 0) and (1, 1)."""
    ordered = sorted(points, key=lambda p: p[0])  # stable: equal x keep their order
    if not ordered or ordered[0][0] > EPSILON:
        ordered.insert(0, (0.0, 0.0))
    if ordered[-1][0] < 1.0 - EPSILON:
        ordered.append((1.0, 1.0))
    return ordered


def apgr(points: Iterable[tuple[float, float]]) -> float:
    """Area under the PGR curve of (strong_fraction, pgr) points, trapezoid rule."""
    return sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in itertools.pairwise(_anchored(points)))


def cpt(points: Iterable[tuple[float, float]], target: float) -> float:
    """Smallest strong-call fraction at which the PGR curve reaches `target` (0.5 for
    CPT(50 %)), interpolating linearly between points as APGR does; NaN if it never does."""
    anchored = _anchored(points)
    if anchored[0][1] >= target - EPSILON:
        return anchored[0][0]
    for (x0, y0), (x1, y1) in itertools.pairwise(anchored):
        if y1 >= target - EPSILON:
            if y1 - y0 <= EPSILON:
                return x1
            return x0 + (x1 - x0) * (target - y0) / (y1 - y0)
    return math.nan


@dataclass(frozen=True)
class CurvePoint:
    threshold: float  # escalate when P(acceptable) < threshold
    strong_fraction: float
    quality: float
    pgr: float
    # Mean cost per request: every weak call, plus the strong calls escalated so far.
    cost: float = 0.0


@dataclass(frozen=True)
class EscalationReport:
    weak_quality: float
    strong_quality: float
    apgr: float
    cpt50: float
    curve: tuple[CurvePoint, ...]

    def cpt(self, target: float) -> float:
        return cpt(((p.strong_fraction, p.pgr) for p in self.curve), target)


def escalation_curve(
    scores: Sequence[float],
    weak: Sequence[float],
    strong: Sequence[float],
    *,
    weak_cost: Sequence[float] | None = None,
    strong_cost: Sequence[float] | None = None,
) -> EscalationReport:
    """Sweep every threshold: escalate the answers scored below it to the strong model.

    `weak`/`strong` are per-item qualities (1.0 correct, 0.0 wrong, or a graded score),
    `weak_cost`/`strong_cost` optional per-item costs (a cascade pays the weak call on
    every item and the strong one on escalated items). Items with equal scores cross a
    threshold together, as a real threshold would.
    """
    n = len(scores)
    weak_cost = weak_cost if weak_cost is not None else [0.0] * n
    strong_cost = strong_cost if strong_cost is not None else [0.0] * n
    weak_quality = sum(weak) / n
    strong_quality = sum(strong) / n
    order = sorted(range(n), key=lambda i: scores[i])
    total = sum(weak)
    spent = sum(weak_cost)
    # pgr() refuses data without a quality gap before anything else is computed.
    start = pgr(weak_quality, weak=weak_quality, strong=strong_quality)
    points = [CurvePoint(min(scores) if scores else 0.0, 0.0, weak_quality, start, spent / n)]
    i = 0
    while i < n:
        j = i
        while j < n and scores[order[j]] == scores[order[i]]:
            total += strong[order[j]] - weak[order[j]]
            spent += strong_cost[order[j]]
            j += 1
        quality = total / n
        threshold = scores[order[j]] if j < n else float("inf")
        points.append(
            CurvePoint(
                threshold,
                j / n,
                quality,
                pgr(quality, weak=weak_quality, strong=strong_quality),
                spent / n,
            )
        )
        i = j
    xy = [(p.strong_fraction, p.pgr) for p in points]
    return EscalationReport(weak_quality, strong_quality, apgr(xy), cpt(xy, 0.5), tuple(points))


# -- any number of models: the cost-quality frontier and AIQ ---------------------------


@dataclass(frozen=True)
class CostQuality:
    """One operating point: mean cost per request (µUSD) and mean quality in [0, 1]."""

    cost: float
    quality: float


def quality_hull(points: Iterable[CostQuality]) -> tuple[CostQuality, ...]:
    """The non-decreasing upper convex hull, from the cheapest point to the costliest
    point that improves quality; points under it are dominated by a mixture."""
    ordered = sorted(points, key=lambda p: (p.cost, -p.quality))
    rising: list[CostQuality] = []
    for point in ordered:
        if not rising or point.quality > rising[-1].quality + EPSILON:
            rising.append(point)
    hull: list[CostQuality] = []
    for point in rising:
        # Drop the last vertex while it lies on or under the chord to the new point.
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (b.cost - a.cost) * (point.quality - a.quality) - (b.quality - a.quality) * (
                point.cost - a.cost
            )
            if cross < -EPSILON:
                break
            hull.pop()
        hull.append(point)
    return tuple(hull)


def hull_quality(hull: Sequence[CostQuality], cost: float) -> float:
    """The frontier at `cost`: 0 below the cheapest point, flat beyond the costliest."""
    if not hull or cost < hull[0].cost - EPSILON:
        return 0.0
    for a, b in itertools.pairwise(hull):
        if cost <= b.cost:
            return a.quality + (b.quality - a.quality) * (cost - a.cost) / (b.cost - a.cost)
    return hull[-1].quality


def _area(hull: Sequence[CostQuality], low: float, high: float) -> float:
    """∫ hull_quality over [low, high], exactly (the frontier is piecewise linear)."""
    knots = sorted({low, high, *(p.cost for p in hull if low < p.cost < high)})
    area = 0.0
    for a, b in itertools.pairwise(knots):
        if hull and b <= hull[0].cost - EPSILON:
            continue  # 0 below the cheapest point
        a = max(a, hull[0].cost) if hull else a
        area += (b - a) * (hull_quality(hull, a) + hull_quality(hull, b)) / 2
    return area


def aiq(points: Iterable[CostQuality], *, cost_low: float, cost_high: float) -> float:
    """Mean frontier quality over costs [cost_low, cost_high] (see the module doc)."""
    hull = quality_hull(points)
    if not hull:
        return math.nan
    if cost_high - cost_low <= EPSILON:
        return hull_quality(hull, cost_high)
    return _area(hull, cost_low, cost_high) / (cost_high - cost_low)


def cost_range(point_sets: Iterable[Iterable[CostQuality]]) -> tuple[float, float]:
    """(c_lo, c_hi): the cheapest and the costliest of the points (the single models')."""
    costs = [p.cost for points in point_sets for p in points]
    return min(costs), max(costs)
