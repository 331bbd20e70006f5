"""Held-out evaluation shared by the learned checks: the train / held-out split,
classification metrics, a content hash of the records fitted on, and RouteLLM's routing
figures (APGR, CPT(50%)) from per-model predictions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from switchyard.learning.dataset import DatasetRecord
from switchyard.learning.metrics import escalation_curve
from switchyard.learning.split import split_dataset


def split_records(
    records: Sequence[DatasetRecord], seed: int, heldout_fraction: float = 0.5
) -> tuple[list[DatasetRecord], list[DatasetRecord]]:
    """(train, held-out): `switchyard datasets split`'s split, so a split file and
    `--seed` give the same sides."""
    split = split_dataset(records, seed=seed, held_out=heldout_fraction)
    return split.train, split.held_out


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    both = bool(labels.any() and not labels.all())
    return {
        "n": len(labels),
        "base_rate": round(float(labels.mean()), 4),
        "log_loss": round(float(log_loss(labels, probabilities, labels=[False, True])), 4),
        "brier": round(float(brier_score_loss(labels, probabilities)), 4),
        "auc": round(float(roc_auc_score(labels, probabilities)), 4) if both else None,
    }


def records_hash(records: Sequence[DatasetRecord]) -> str:
    digest = hashlib.sha256()
    for record in records:
        digest.update(json.dumps(record.to_json(), sort_keys=True).encode() + b"\n")
    return "sha256:" + digest.hexdigest()


def routing_figures(
    records: Sequence[DatasetRecord],
    predicted: Mapping[str, np.ndarray],
    weak: str,
    strong: str,
) -> dict[str, Any]:
    """APGR / CPT(50%) of routing to `strong` when P_strong - P_weak exceeds a swept
    threshold, over the records both answered (RouteLLM's evaluation)."""
    both = [i for i, r in enumerate(records) if weak in r.answers and strong in r.answers]
    if not both:
        return {"weak": weak, "strong": strong, "n": 0}
    scores = [float(predicted[weak][i] - predicted[strong][i]) for i in both]
    try:
        report = escalation_curve(
            scores,
            [records[i].answers[weak].quality for i in both],
            [records[i].answers[strong].quality for i in both],
        )
    except ValueError as exc:
        return {"weak": weak, "strong": strong, "n": len(both), "error": str(exc)}
    return {
        "weak": weak,
        "strong": strong,
        "n": len(both),
        "weak_quality": round(report.weak_quality, 4),
        "strong_quality": round(report.strong_quality, 4),
        "apgr": round(report.apgr, 4),
        "cpt50": round(report.cpt50, 4),
    }
