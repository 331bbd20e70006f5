"""Recompute a scorer model's held-out figures from the labelled answers, independently of
switchyard.checks.evaluation (plain formulas: mean squared error, pair counting, binning),
so tests compare what an artefact stores with what the data says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from switchyard.checks.scorer import LogisticModel, answer_embedding
from switchyard.checks.training import LabelledAnswer
from switchyard.learning.features import EmbeddingSpec


def recompute(
    model: LogisticModel, answers: Sequence[LabelledAnswer], embedding: EmbeddingSpec | None = None
) -> dict[str, Any]:
    """The held-out figures `switchyard verifier train` records, computed from scratch
    (with the answer embedding `embedding` names when the model reads one)."""
    probabilities = [
        model.probability(
            a.features(),
            answer_embedding(embedding, a.output) if model.embedding_weights else (),
        )
        for a in answers
    ]
    labels = [a.acceptable for a in answers]
    n = len(labels)
    base_rate = sum(labels) / n
    positives = [p for p, y in zip(probabilities, labels, strict=True) if y]
    negatives = [p for p, y in zip(probabilities, labels, strict=True) if not y]
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p in positives for q in negatives)
    bins: dict[int, list[tuple[float, bool]]] = {}
    for p, y in zip(probabilities, labels, strict=True):
        bins.setdefault(min(int(p * 10), 9), []).append((p, y))
    return {
        "n": n,
        "base_rate": base_rate,
        "brier": sum((p - y) ** 2 for p, y in zip(probabilities, labels, strict=True)) / n,
        "brier_base_rate": sum((base_rate - y) ** 2 for y in labels) / n,
        "auc": wins / (len(positives) * len(negatives)),
        "reliability": [
            {
                "bin": f"{b / 10:.1f}-{(b + 1) / 10:.1f}",
                "n": len(members),
                "predicted": sum(p for p, _ in members) / len(members),
                "observed": sum(1 for _, y in members if y) / len(members),
            }
            for b, members in sorted(bins.items())
        ],
    }


def assert_matches(stored: Mapping[str, Any], recomputed: Mapping[str, Any]) -> None:
    """Stored figures are rounded (4 places, 3 for reliability): equal up to that rounding."""
    assert stored["n"] == recomputed["n"]
    for key in ("base_rate", "brier", "brier_base_rate", "auc"):
        assert stored[key] == pytest.approx(recomputed[key], abs=0.5e-4 + 1e-9), key
    assert [row["bin"] for row in stored["reliability"]] == [
        row["bin"] for row in recomputed["reliability"]
    ]
    for kept, fresh in zip(stored["reliability"], recomputed["reliability"], strict=True):
        assert kept["n"] == fresh["n"], kept["bin"]
        for key in ("predicted", "observed"):
            assert kept[key] == pytest.approx(fresh[key], abs=0.5e-3 + 1e-9), (kept["bin"], key)
