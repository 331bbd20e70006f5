"""Held-out metrics for the quality scorer: calibration and escalation value.

Calibration (Brier, AUC, reliability) lives here; the escalation metrics APGR and
CPT (RouteLLM, arXiv 2406.18665) live once in `switchyard.learning.metrics`, shared
with offline evaluation, and are re-exported here: escalate the weak model's answer
to the strong model when the scorer's P(acceptable) is below a threshold, sweep the
threshold, and read quality against the fraction of strong calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from switchyard.learning.metrics import CurvePoint, EscalationReport, escalation_curve

__all__ = [
    "CurvePoint",
    "EscalationReport",
    "ReliabilityBin",
    "brier",
    "escalation_curve",
    "reliability_table",
    "roc_auc",
]


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
