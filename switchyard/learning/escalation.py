"""When to escalate a cheap answer to the strong model, learned from a team's own data.

Three signals, all fitted on the TRAIN records only, by the product's own training code:
the verifier's answer scorer fitted on the weak model's answers (`train verifier`'s
code: per task family, pooled fallback), and the router's prompt-only predictors of
P(acceptable) for the weak and the strong model (`train router`'s code). Three ways to
rank the weak answers for escalation (lowest first):

- `answer`: P(weak answer acceptable) from the answer scorer (the verifier's cascade);
- `prompt`: P(weak ok | prompt) − P(strong ok | prompt), the prompt-only router's gain
  (answers too short or too alike for the answer scorer to read);
- `gain`: P(weak answer acceptable) − P(strong acceptable | prompt): escalate where the
  strong model is expected to gain most, not only where the weak answer looks bad;
- `stacked`: a ridge regression of the realised gain (q_strong − q_weak) on the three
  signals' logits, fitted on out-of-fold signals, so it learns how far each one is to be
  trusted on this data (a hard prompt sinks both models; the answer may say so).

Which ranking serves is chosen by cross-validated APGR on the train records (out-of-fold
signals from k folds; the stacker gets its own inner folds over them), a rule that
applies to any dataset with two models and answer texts; nothing here reads held-out
data or is set per dataset.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import Ridge

from switchyard.checks.features import FEATURE_NAMES
from switchyard.checks.scorer import LogisticModel, LogisticQualityScorer
from switchyard.checks.training import build_scorer, fit_logistic
from switchyard.learning.artefact import write_artefact
from switchyard.learning.dataset import DatasetRecord
from switchyard.learning.metrics import escalation_curve
from switchyard.learning.predictor import QualityPredictor, load_predictor
from switchyard.learning.predictor_training import TrainingConfig, train_router_predictor
from switchyard.learning.verifier_training import VerifierTrainingError, train_verifier

RANKINGS = ("answer", "prompt", "gain", "stacked")
CV_FOLDS = 5
STACK_ALPHA = 1.0  # ridge strength on three logits: mild, the stacker has 3 weights
_CLIP = 1e-4


def _logit(p: float) -> float:
    p = min(max(p, _CLIP), 1 - _CLIP)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Signals:
    """Per record: P(weak answer ok), P(weak ok | prompt), P(strong ok | prompt)."""

    answer: np.ndarray
    weak_prompt: np.ndarray
    strong_prompt: np.ndarray

    def logits(self) -> np.ndarray:
        columns = (self.answer, self.weak_prompt, self.strong_prompt)
        return np.array([[_logit(float(v)) for v in row] for row in zip(*columns, strict=True)])


@dataclass(frozen=True)
class SignalModels:
    scorer: LogisticQualityScorer
    predictor: QualityPredictor
    weak: str
    strong: str

    def signals(self, records: Sequence[DatasetRecord]) -> Signals:
        answer, weak_prompt, strong_prompt = [], [], []
        for r in records:
            answer.append(
                self.scorer.score(
                    prompt=r.prompt,
                    task_type=r.task_type,
                    output=r.answers[self.weak].answer or "",
                    finish_reason="stop",
                )
            )
            # The artefact lacks a model only when it never answered in train: no
            # information, so 0.5 (the logit's zero).
            got = self.predictor.predict(r.prompt, r.task_type, [self.weak, self.strong])
            weak_prompt.append(got.get(self.weak, 0.5))
            strong_prompt.append(got.get(self.strong, 0.5))
        return Signals(np.array(answer), np.array(weak_prompt), np.array(strong_prompt))


def fit_signal_models(
    train: Sequence[DatasetRecord],
    weak: str,
    strong: str,
    *,
    seed: int,
    config: TrainingConfig | None = None,
) -> SignalModels:
    try:
        scorer = train_verifier(train, [], seed=seed, answers_of={weak}).scorer
    except VerifierTrainingError:
        # One label only (a small fold): the answer says nothing; score its base rate.
        labels = [r.answers[weak].acceptable for r in train if weak in r.answers]
        bias, weights = fit_logistic([[0.0] * len(FEATURE_NAMES)] * len(labels), labels, l2=1)
        scorer = build_scorer([LogisticModel("general", (), bias, tuple(weights), {})], "general")
    trained = train_router_predictor(train, [], config=config)
    with tempfile.TemporaryDirectory(prefix="escalation-predictor-") as tmp:
        path = Path(tmp) / "router.zip"
        write_artefact(path, trained.manifest, trained.arrays)
        predictor = load_predictor(path)  # loads everything into memory
    return SignalModels(scorer, predictor, weak, strong)


def _folds(n: int, seed: int, k: int = CV_FOLDS) -> list[np.ndarray]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [np.array(sorted(order[i::k]), dtype=np.intp) for i in range(k)]


def fit_stacker(x: np.ndarray, gain: np.ndarray) -> Ridge:
    return Ridge(alpha=STACK_ALPHA).fit(x, gain)


def rank_scores(ranking: str, signals: Signals, stacker: Ridge | None = None) -> np.ndarray:
    """Lower escalates first (the convention of `metrics.escalation_curve`)."""
    if ranking == "answer":
        return signals.answer
    if ranking == "prompt":
        return signals.weak_prompt - signals.strong_prompt
    if ranking == "gain":
        return signals.answer - signals.strong_prompt
    if ranking == "stacked":
        if stacker is None:
            raise ValueError("the stacked ranking needs its fitted stacker")
        return -stacker.predict(signals.logits())
    raise ValueError(f"unknown ranking {ranking!r}")


@dataclass(frozen=True)
class EscalationChoice:
    ranking: str
    cv_apgr: dict[str, float]
    models: SignalModels
    stacker: Ridge | None

    def scores(self, records: Sequence[DatasetRecord]) -> np.ndarray:
        return rank_scores(self.ranking, self.models.signals(records), self.stacker)


def usable(records: Sequence[DatasetRecord], weak: str, strong: str) -> list[DatasetRecord]:
    return [
        r
        for r in records
        if weak in r.answers and strong in r.answers and r.answers[weak].answer is not None
    ]


def choose_escalation(
    train: Sequence[DatasetRecord],
    weak: str,
    strong: str,
    *,
    seed: int,
    folds: int = CV_FOLDS,
    fit: Callable[..., SignalModels] = fit_signal_models,
) -> EscalationChoice:
    """Out-of-fold signals on train, each ranking's CV APGR, the best refitted on all."""
    rows = usable(train, weak, strong)
    weak_q = np.array([r.answers[weak].quality for r in rows])
    strong_q = np.array([r.answers[strong].quality for r in rows])
    parts: list[tuple[np.ndarray, Signals]] = []
    for fold in _folds(len(rows), seed, folds):
        held = set(fold.tolist())
        models = fit([r for i, r in enumerate(rows) if i not in held], weak, strong, seed=seed)
        parts.append((fold, models.signals([rows[i] for i in fold])))
    order = np.concatenate([f for f, _ in parts])
    oof = Signals(
        *(
            _scatter(order, [getattr(s, a) for _, s in parts])
            for a in ("answer", "weak_prompt", "strong_prompt")
        )
    )
    x = oof.logits()
    gain = strong_q - weak_q
    stacked = np.empty(len(rows))
    for fold in _folds(len(rows), seed + 1, folds):
        rest = np.setdiff1d(np.arange(len(rows)), fold)
        if len(fold) and len(rest):  # a fold can be empty on a handful of rows
            stacked[fold] = -fit_stacker(x[rest], gain[rest]).predict(x[fold])
        else:
            stacked[fold] = 0.0
    candidates = {
        "answer": rank_scores("answer", oof),
        "prompt": rank_scores("prompt", oof),
        "gain": rank_scores("gain", oof),
        "stacked": stacked,
    }
    cv_apgr = {name: _apgr(s, weak_q, strong_q) for name, s in candidates.items()}
    # Ties (and a train half where "strong" is no better: every APGR NaN) go to the
    # earlier, simpler ranking.
    best = max(RANKINGS, key=lambda name: -math.inf if math.isnan(cv_apgr[name]) else cv_apgr[name])
    models = fit(rows, weak, strong, seed=seed)
    stacker = fit_stacker(x, gain) if best == "stacked" else None
    return EscalationChoice(best, cv_apgr, models, stacker)


def _apgr(scores: np.ndarray, weak_q: np.ndarray, strong_q: np.ndarray) -> float:
    try:
        return round(float(escalation_curve(list(scores), list(weak_q), list(strong_q)).apgr), 4)
    except ValueError:  # no quality gap between the two models on these rows
        return math.nan


def _scatter(order: np.ndarray, chunks: Sequence[np.ndarray]) -> np.ndarray:
    out = np.empty(len(order))
    out[order] = np.concatenate(chunks)
    return out
