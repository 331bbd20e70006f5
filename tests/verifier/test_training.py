"""Training and evaluation maths: splits, logistic fit, calibration, APGR and CPT."""

from __future__ import annotations

import random

import pytest

from switchyard.checks import evaluation, training


def test_split_halves_is_deterministic_and_disjoint() -> None:
    """The same seed gives the same halves; halves are disjoint and cover every key."""
    keys = [f"k{i}" for i in range(101)] + ["k1", "k2"]  # duplicates stay together
    train, held = training.split_halves(keys, seed=7)
    assert (train, held) == training.split_halves(list(reversed(keys)), seed=7)
    assert not train & held and train | held == set(keys)
    assert len(train) == 50 and len(held) == 51
    assert training.split_halves(keys, seed=8) != (train, held)


def test_fit_logistic_learns_a_signal() -> None:
    """IRLS recovers the sign of an informative feature and ignores noise."""
    rng = random.Random(1)
    rows, labels = [], []
    for _ in range(400):
        signal, noise = rng.random(), rng.random()
        rows.append([signal, noise])
        labels.append(rng.random() < 0.1 + 0.8 * signal)
    bias, (w_signal, w_noise) = training.fit_logistic(rows, labels, l2=0.1)
    assert w_signal > 2.0
    assert abs(w_noise) < 1.0
    assert bias < 0


def test_choose_l2_picks_from_grid() -> None:
    """Cross-validation returns one of the grid values and a loss for each."""
    rng = random.Random(2)
    rows = [[rng.random()] for _ in range(60)]
    labels = [r[0] + rng.random() * 0.5 > 0.7 for r in rows]
    l2, losses = training.choose_l2(rows, labels, seed=3, grid=(0.1, 10.0))
    assert l2 in (0.1, 10.0) and set(losses) == {"0.1", "10.0"}


def test_brier_and_auc() -> None:
    """Brier is the mean squared error; AUC is 1 for a perfect ranking, 0.5 for ties."""
    assert evaluation.brier([1.0, 0.0, 0.5], [True, False, True]) == pytest.approx(0.25 / 3)
    assert evaluation.roc_auc([0.9, 0.8, 0.2], [True, True, False]) == 1.0
    assert evaluation.roc_auc([0.5, 0.5, 0.5], [True, False, True]) == 0.5


def test_reliability_table_bins() -> None:
    """Each non-empty bin reports its count, mean prediction and observed rate."""
    table = evaluation.reliability_table([0.05, 0.07, 0.95, 1.0], [False, True, True, True])
    assert [(b.count, b.observed) for b in table] == [(2, 0.5), (2, 1.0)]
    assert table[0].mean_predicted == pytest.approx(0.06)


WEAK = [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
STRONG = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]


def test_escalation_curve_oracle() -> None:
    """Escalating exactly the weak model's failures closes the gap early: APGR > 0.5."""
    scores = [0.9 if w else 0.1 for w in WEAK]
    report = evaluation.escalation_curve(scores, WEAK, STRONG)
    assert report.weak_quality == 0.5 and report.strong_quality == 7 / 8
    assert report.curve[-1].pgr == pytest.approx(1.0)
    assert report.apgr > 0.7
    # The four low scores cross together at x = 0.5 (PGR 1); mixing that setting with
    # "never" at random gives the line in between, so PGR 0.5 is reached at x = 0.25.
    assert report.cpt50 == pytest.approx(0.25)


def test_escalation_curve_uninformative_scores_give_half() -> None:
    """A constant score escalates everything at once: the curve is the random router's
    straight line, so APGR is exactly 0.5 and CPT(50%) is 50%."""
    report = evaluation.escalation_curve([0.3] * 8, WEAK, STRONG)
    assert report.apgr == pytest.approx(0.5)
    assert report.cpt50 == pytest.approx(0.5)


def test_escalation_curve_inverted_scores_do_worse_than_random() -> None:
    """Escalating the weak model's successes first is worse than random."""
    scores = [0.1 if w else 0.9 for w in WEAK]
    assert evaluation.escalation_curve(scores, WEAK, STRONG).apgr < 0.5


def test_escalation_curve_needs_a_gap() -> None:
    """Without a quality gap PGR is undefined: a clear error."""
    with pytest.raises(ValueError):
        evaluation.escalation_curve([0.1, 0.2], [1.0, 1.0], [1.0, 1.0])
