"""Held-out metrics for the quality scorer: calibration and escalation value.

APGR and CPT follow the RouteLLM paper (arXiv 2406.18665): escalate the weak model's
answer to the strong model when the scorer's P(acceptable) is below a threshold, sweep
the threshold, and read quality against the fraction of strong calls. PGR normalises
quality so that always-weak = 0 and always-strong = 1; APGR is the area under the PGR
curve (a random router scores 0.5 in expectation); CPT(x%) is the smallest strong-call
fraction whose PGR reaches x%.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass


def brier(probabilities: Sequence[float], labels: Sequence[bool]) -> float:
    return sum((p - float(y)) ** 2 for p, y in zip(probabilities, labels, strict=True)) / len(
        labels
    )


def roc_auc(probabilities: Sequence[float], labels: Sequence[bool]) -> float:
    """Probability a random acceptable answer outscores a random unacceptable one."""
    order = sorted(range(len(labels)), key=lambda i: probabilities[i])
    ranks = [0.0] * len(labels)
    i = 0
    while i < len(order):  # average ranks over ties
        j = i
        while j + 1 < len(order) and probabilities[order[j + 1]] == probabilities[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return float("nan")
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    mean_predicted: float
    observed: float


def reliability_table(
    probabilities: Sequence[float], labels: Sequence[bool], bins: int = 10
) -> list[ReliabilityBin]:
    table = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [
            (p, y)
            for p, y in zip(probabilities, labels, strict=True)
            if low <= p < high or (b == bins - 1 and p == 1.0)
        ]
        if members:
            table.append(
                ReliabilityBin(
                    low,
                    high,
                    len(members),
                    sum(p for p, _ in members) / len(members),
                    sum(1 for _, y in members if y) / len(members),
                )
            )
    return table


@dataclass(frozen=True)
class CurvePoint:
    threshold: float  # escalate when P(acceptable) < threshold
    strong_fraction: float
    quality: float
    pgr: float


@dataclass(frozen=True)
class EscalationReport:
    weak_quality: float
    strong_quality: float
    apgr: float
    cpt50: float
    curve: tuple[CurvePoint, ...]


def escalation_curve(
    scores: Sequence[float], weak: Sequence[float], strong: Sequence[float]
) -> EscalationReport:
    """Sweep every threshold: escalate the answers scored below it to the strong model.

    `weak`/`strong` are per-item qualities (1.0 correct, 0.0 wrong, or a graded score).
    Items with equal scores cross a threshold together, as a real threshold would.
    """
    n = len(scores)
    weak_quality = sum(weak) / n
    strong_quality = sum(strong) / n
    gap = strong_quality - weak_quality
    if gap <= 0:
        raise ValueError("the strong model is not better than the weak one on this data")
    order = sorted(range(n), key=lambda i: scores[i])
    total = sum(weak)
    points = [CurvePoint(min(scores) if scores else 0.0, 0.0, weak_quality, 0.0)]
    i = 0
    while i < n:
        j = i
        while j < n and scores[order[j]] == scores[order[i]]:
            total += strong[order[j]] - weak[order[j]]
            j += 1
        quality = total / n
        threshold = scores[order[j]] if j < n else float("inf")
        points.append(CurvePoint(threshold, j / n, quality, (quality - weak_quality) / gap))
        i = j
    apgr = sum(
        (b.strong_fraction - a.strong_fraction) * (a.pgr + b.pgr) / 2
        for a, b in itertools.pairwise(points)
    )
    cpt50 = next(p.strong_fraction for p in points if p.pgr >= 0.5)
    return EscalationReport(weak_quality, strong_quality, apgr, cpt50, tuple(points))
