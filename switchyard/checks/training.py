"""Training the quality scorer on labelled answers from the shared datasets.

Data: GSM8K answers by Mixtral with correctness labels (RouteLLM) train the "math"
model; RouterArena answers by Claude 3 Haiku and Gemini 2.0 Flash (score >= 0.5 is
acceptable) train the "general" model. Each dataset is split in halves by a fixed
seed BEFORE anything is fitted; only the train half is fitted, and every figure we
report comes from the held-out half.

The fit is L2-regularised logistic regression by scikit-learn (the library the
router's predictors are fitted with too); inference stays a pure-Python dot product
in `scorer.py`, so the runtime artefact format is unchanged.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from switchyard.checks.features import FEATURE_NAMES, extract
from switchyard.checks.scorer import (
    LogisticModel,
    LogisticQualityScorer,
    answer_embedding,
    content_version,
)
from switchyard.learning.importers.routerarena import arena_task_type

if TYPE_CHECKING:
    from switchyard.learning.features import EmbeddingSpec

DEFAULT_SEED = 20240601
GSM8K_FILE = "routellm/gsm8k/gsm8k_responses.csv"
GSM8K_WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
GSM8K_STRONG = "gpt-4-1106-preview"
ROUTERARENA_FILES = {
    "claude-3-haiku-20240307": "routerarena/claude-3-haiku-20240307.jsonl",
    "gemini-2.0-flash-001": "routerarena/gemini-2.0-flash-001.jsonl",
}
ACCEPTABLE_SCORE = 0.5


@dataclass(frozen=True)
class LabelledAnswer:
    """One answer with its label; `group` keeps answers to one prompt in one half."""

    group: str
    prompt: str
    task_type: str
    output: str
    acceptable: bool
    finish_reason: str = "stop"

    def features(self) -> list[float]:
        return extract(
            prompt=self.prompt,
            task_type=self.task_type,
            output=self.output,
            finish_reason=self.finish_reason,
        )


@dataclass(frozen=True)
class Gsm8kItem:
    prompt: str
    weak_output: str
    weak_correct: bool
    strong_correct: bool


def read_gsm8k(data_dir: Path) -> list[Gsm8kItem]:
    with (data_dir / GSM8K_FILE).open(newline="") as handle:
        return [
            Gsm8kItem(
                prompt=row["prompt"],
                weak_output=row[f"{GSM8K_WEAK}_response"],
                weak_correct=row[GSM8K_WEAK] == "True",
                strong_correct=row[GSM8K_STRONG] == "True",
            )
            for row in csv.DictReader(handle)
        ]


def split_halves(keys: Sequence[str], seed: int) -> tuple[set[str], set[str]]:
    """(train, held-out) halves of the distinct keys, shuffled by `seed`."""
    distinct = sorted(set(keys))
    random.Random(seed).shuffle(distinct)
    half = len(distinct) // 2
    return set(distinct[:half]), set(distinct[half:])


def gsm8k_split(items: Sequence[Gsm8kItem], seed: int) -> tuple[list[Gsm8kItem], list[Gsm8kItem]]:
    """Halves by row index; every GSM8K prompt is one row."""
    keys = [f"{i:05d}" for i in range(len(items))]
    train, _ = split_halves(keys, seed)
    return (
        [it for k, it in zip(keys, items, strict=True) if k in train],
        [it for k, it in zip(keys, items, strict=True) if k not in train],
    )


def gsm8k_answers(items: Sequence[Gsm8kItem]) -> list[LabelledAnswer]:
    return [LabelledAnswer("", it.prompt, "math", it.weak_output, it.weak_correct) for it in items]


@dataclass(frozen=True)
class ArenaRow:
    group: str
    model: str
    prompt: str
    output: str
    score: float


def read_routerarena(data_dir: Path) -> list[ArenaRow]:
    rows: list[ArenaRow] = []
    for model, name in ROUTERARENA_FILES.items():
        with (data_dir / name).open() as handle:
            for line in handle:
                if not line.strip():
                    continue
                record = json.loads(line)
                rows.append(
                    ArenaRow(
                        group=record["global_index"],
                        model=model,
                        prompt=record["question"],
                        output=record.get("generated_answer") or "",
                        score=float(record["evaluation_result"]["score"]),
                    )
                )
    return rows


def arena_split(rows: Sequence[ArenaRow], seed: int) -> tuple[list[ArenaRow], list[ArenaRow]]:
    train, _ = split_halves([r.group for r in rows], seed)
    return [r for r in rows if r.group in train], [r for r in rows if r.group not in train]


def arena_answers(rows: Sequence[ArenaRow]) -> list[LabelledAnswer]:
    return [
        LabelledAnswer(
            r.group, r.prompt, arena_task_type(r.group), r.output, r.score >= ACCEPTABLE_SCORE
        )
        for r in rows
    ]


def fit_logistic(
    rows: Sequence[Sequence[float]], labels: Sequence[bool], *, l2: float
) -> tuple[float, list[float]]:
    """(bias, weights) minimising log-loss + l2/2 * |w|^2 (bias unpenalised).

    scikit-learn's LogisticRegression minimises C * sum(log-loss) + |w|^2 / 2 with an
    unpenalised intercept: the same objective at C = 1/l2, solved to a tight tolerance
    so the optimum (and the artefact) match the previous hand-rolled Newton solver."""
    y = np.asarray(labels, bool)
    if y.all() or not y.any():  # one class: the best model is its rate, no weights
        rate = min(max(float(y.mean()), 1e-4), 1 - 1e-4)
        return math.log(rate / (1 - rate)), [0.0] * len(rows[0])
    estimator = LogisticRegression(C=1.0 / l2, tol=1e-10, max_iter=2000)
    estimator.fit(np.asarray(rows, np.float64), y)
    return float(estimator.intercept_[0]), [float(w) for w in estimator.coef_[0]]


def train_model(
    name: str,
    task_types: Sequence[str],
    answers: Sequence[LabelledAnswer],
    *,
    l2: float,
    training: dict,
) -> LogisticModel:
    features = [a.features() for a in answers]
    bias, weights = fit_logistic(features, [a.acceptable for a in answers], l2=l2)
    return LogisticModel(name, tuple(task_types), bias, tuple(weights), training)


def build_scorer(
    models: Sequence[LogisticModel], default_model: str, *, embedding: EmbeddingSpec | None = None
) -> LogisticQualityScorer:
    """A scorer over `models`; `embedding` is kept only when one of them reads it, so
    the artefact stays format 1 whenever cross-validation kept every model plain."""
    reads = any(m.embedding_weights for m in models)
    return LogisticQualityScorer(
        version=content_version(models),
        models={m.name: m for m in models},
        default_model=default_model,
        embedding=embedding if reads else None,
    )


L2_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
CV_FOLDS = 5


def _log_loss(probabilities: Sequence[float], labels: Sequence[bool]) -> float:
    eps = 1e-9
    return -sum(
        math.log(max(p, eps)) if y else math.log(max(1 - p, eps))
        for p, y in zip(probabilities, labels, strict=True)
    ) / len(labels)


def choose_l2(
    features: Sequence[Sequence[float]],
    labels: Sequence[bool],
    *,
    seed: int,
    grid: Sequence[float] = L2_GRID,
) -> tuple[float, dict[str, float]]:
    """Pick the L2 strength by k-fold cross-validated log-loss, on the train half only."""
    order = list(range(len(labels)))
    random.Random(seed + 1).shuffle(order)
    folds = [order[k::CV_FOLDS] for k in range(CV_FOLDS)]
    losses: dict[str, float] = {}
    for l2 in grid:
        predictions: list[float] = []
        truth: list[bool] = []
        for fold in folds:
            held = set(fold)
            fit_rows = [i for i in order if i not in held]
            bias, weights = fit_logistic(
                [features[i] for i in fit_rows], [labels[i] for i in fit_rows], l2=l2
            )
            model = LogisticModel("cv", (), bias, tuple(weights), {})
            predictions.extend(model.probability(features[i]) for i in fold)
            truth.extend(labels[i] for i in fold)
        losses[str(l2)] = round(_log_loss(predictions, truth), 5)
    best = min(grid, key=lambda l2: losses[str(l2)])
    return best, losses


def fit_answer_model(
    name: str,
    task_types: Sequence[str],
    answers: Sequence[LabelledAnswer],
    *,
    seed: int,
    embedding: EmbeddingSpec | None,
) -> tuple[LogisticModel, dict[str, Any]]:
    """One model over `answers`: the hand-made features alone, or with the answer's
    embedding too (never without a spec), at the L2 strength, whichever has the lower
    cross-validated log loss on these (train) answers. The features are mostly about
    maths; the embedding says what an answer is about and how it is put, on any task."""
    plain = [a.features() for a in answers]
    labels = [a.acceptable for a in answers]
    l2_plain, losses_plain = choose_l2(plain, labels, seed=seed)
    embedded: list[list[float]] = []
    l2_embedded, losses_embedded = l2_plain, {}
    if embedding is not None:
        embedded = [
            row + answer_embedding(embedding, a.output)
            for row, a in zip(plain, answers, strict=True)
        ]
        l2_embedded, losses_embedded = choose_l2(embedded, labels, seed=seed)
    reads = bool(losses_embedded) and min(losses_embedded.values()) < min(losses_plain.values())
    l2 = l2_embedded if reads else l2_plain
    bias, weights = fit_logistic(embedded if reads else plain, labels, l2=l2)
    n = len(FEATURE_NAMES)
    model = LogisticModel(name, tuple(task_types), bias, tuple(weights[:n]), {}, tuple(weights[n:]))
    info = {
        "n_train": len(answers),
        "l2": l2,
        "answer_embedding": reads,
        "cv_log_loss": losses_embedded if reads else losses_plain,
        "cv_log_loss_features_only": losses_plain,
        "cv_log_loss_with_embedding": losses_embedded,
    }
    return model, info
