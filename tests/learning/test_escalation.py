"""The learned escalation rule (switchyard/learning/escalation.py): rankings by hand,
the choice by cross-validated APGR on train, and a real fit on a small dataset."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from switchyard.learning.dataset import DatasetRecord
from switchyard.learning.escalation import (
    RANKINGS,
    Signals,
    choose_escalation,
    fit_signal_models,
    fit_stacker,
    rank_scores,
    usable,
)
from switchyard.learning.heldout import split_records
from switchyard.learning.metrics import escalation_curve
from switchyard.learning.predictor_training import BOOSTING_PARAMS, TrainingConfig
from tests.learning.test_verifier_training import answered_records


def test_rankings_by_hand() -> None:
    s = Signals(np.array([0.9, 0.2]), np.array([0.6, 0.5]), np.array([0.7, 0.95]))
    assert rank_scores("answer", s).tolist() == pytest.approx([0.9, 0.2])
    assert rank_scores("prompt", s).tolist() == pytest.approx([-0.1, -0.45])
    assert rank_scores("gain", s).tolist() == pytest.approx([0.2, -0.75])
    with pytest.raises(ValueError, match="unknown ranking"):
        rank_scores("vibes", s)


def test_stacked_ranking_escalates_the_larger_predicted_gain_first() -> None:
    """A stacker fitted where the gain grows with P(strong ok | prompt) and falls with the
    answer score ranks a bad answer to a promising prompt first (lowest score)."""
    rng = np.random.default_rng(1)
    s = Signals(rng.uniform(0.05, 0.95, 200), np.full(200, 0.5), rng.uniform(0.05, 0.95, 200))
    gain = s.strong_prompt - s.answer
    stacker = fit_stacker(s.logits(), gain)
    probe = Signals(np.array([0.9, 0.1]), np.array([0.5, 0.5]), np.array([0.2, 0.9]))
    scores = rank_scores("stacked", probe, stacker)
    assert scores[1] < scores[0]
    with pytest.raises(ValueError, match="stacker"):
        rank_scores("stacked", probe)  # a stacked choice always carries its stacker


@dataclass(frozen=True)
class _Recorded:
    """Signals read off the records (their ids encode them): the selection logic alone,
    with no model fitted. The real fit is the last test."""

    truth: dict[str, tuple[float, float, float]]

    def signals(self, records: Sequence[DatasetRecord]) -> Signals:
        rows = np.array([self.truth[r.id] for r in records])
        return Signals(rows[:, 0], rows[:, 1], rows[:, 2])


def _fit_from(truth: dict[str, tuple[float, float, float]]):
    def fit(train, weak, strong, *, seed):
        return _Recorded(truth)

    return fit


def test_choice_follows_cross_validated_apgr() -> None:
    """When only the prompt signals know which requests the strong model wins, the
    answer ranking is no better than chance and the choice is not it."""
    records = answered_records(200, seed=3)
    rng = np.random.default_rng(0)
    truth = {}
    for r in records:
        wins = r.answers["strong"].quality - r.answers["weak"].quality
        # answer signal: noise; prompt signals: the realised gain, blurred.
        truth[r.id] = (
            float(rng.uniform(0.1, 0.9)),
            0.5,
            float(np.clip(0.5 + 0.4 * wins + rng.normal(0, 0.05), 0.01, 0.99)),
        )
    choice = choose_escalation(records, "weak", "strong", seed=1, fit=_fit_from(truth))
    assert set(choice.cv_apgr) == set(RANKINGS)
    assert choice.ranking == max(RANKINGS, key=choice.cv_apgr.__getitem__)
    assert choice.ranking != "answer"
    assert choice.cv_apgr[choice.ranking] > choice.cv_apgr["answer"] + 0.2
    if choice.ranking == "stacked":
        assert choice.stacker is not None


def _noisy(records: list[DatasetRecord]) -> list[DatasetRecord]:
    """Every tenth weak label flipped: separable data would make the verifier's tight
    logistic solve crawl, and real labels are never that clean."""
    out = []
    for i, r in enumerate(records):
        if i % 10 == 0:
            weak = r.answers["weak"]
            flipped = dataclasses.replace(weak, quality=1.0 - weak.quality)
            r = dataclasses.replace(r, answers={**r.answers, "weak": flipped})
        out.append(r)
    return out


def test_real_fit_on_train_escalates_bad_answers_on_held_out() -> None:
    """The verifier's and the router's own training code on a small dataset: the chosen
    rule, applied to held-out records it never saw, beats random escalation."""
    train, held = split_records(_noisy(answered_records(120, seed=5)), seed=2)
    # Fewer folds and predictor candidates than the defaults, to keep the test fast.
    small = TrainingConfig(logistic_c=(1.0,), boosting={**BOOSTING_PARAMS, "max_iter": 20})
    choice = choose_escalation(
        train,
        "weak",
        "strong",
        seed=1,
        folds=2,
        fit=functools.partial(fit_signal_models, config=small),
    )
    assert choice.ranking in RANKINGS
    records = usable(held, "weak", "strong")
    report = escalation_curve(
        list(choice.scores(records)),
        [r.answers["weak"].quality for r in records],
        [r.answers["strong"].quality for r in records],
    )
    assert report.apgr > 0.6  # random is 0.5; most answers show their quality plainly
