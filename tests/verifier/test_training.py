"""Training and evaluation maths: splits, logistic fit, calibration, APGR and CPT."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from switchyard.checks import default_scorer, evaluation, training
from switchyard.checks.scorer import sigmoid
from tests.verifier import heldout


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


FIXTURE_DATA = Path(__file__).parent / "fixtures" / "data"


def fixture_math_halves() -> tuple[list[training.LabelledAnswer], list[training.LabelledAnswer]]:
    train, held = training.gsm8k_split(training.read_gsm8k(FIXTURE_DATA), training.DEFAULT_SEED)
    return training.gsm8k_answers(train), training.gsm8k_answers(held)


def test_splits_of_the_fixture_are_disjoint_halves() -> None:
    """GSM8K rows split 24/24 with no prompt in both halves; RouterArena keeps every answer to
    one prompt (both models') in the same half."""
    train, held = fixture_math_halves()
    assert len(train) == len(held) == 24
    assert not {a.prompt for a in train} & {a.prompt for a in held}
    rows = training.read_routerarena(FIXTURE_DATA)
    arena_train, arena_held = training.arena_split(rows, training.DEFAULT_SEED)
    assert len(arena_train) + len(arena_held) == len(rows) == 60
    assert not {r.group for r in arena_train} & {r.group for r in arena_held}
    assert {r.group for r in arena_train} | {r.group for r in arena_held} == {r.group for r in rows}


def test_fit_logistic_is_the_penalised_optimum_on_the_fixture() -> None:
    """On the fixture's train half the fitted (bias, weights) zero the gradient of
    log-loss + l2/2·|w|² (bias unpenalised), recomputed here from the rows."""
    train, _ = fixture_math_halves()
    rows = [a.features() for a in train]
    labels = [a.acceptable for a in train]
    l2 = 1.0
    bias, weights = training.fit_logistic(rows, labels, l2=l2)
    residuals = [
        sigmoid(bias + sum(w * x for w, x in zip(weights, row, strict=True))) - float(y)
        for row, y in zip(rows, labels, strict=True)
    ]
    assert abs(sum(residuals)) < 1e-6
    for j, w in enumerate(weights):
        gradient = sum(r * row[j] for r, row in zip(residuals, rows, strict=True)) + l2 * w
        assert abs(gradient) < 1e-6, (j, gradient)


def test_choose_l2_reports_the_cross_validated_log_loss_on_the_fixture() -> None:
    """Each grid value's loss is the mean log-loss of out-of-fold predictions over five folds
    of the train rows (shuffled by seed + 1), recomputed here; the smallest loss wins."""
    train, _ = fixture_math_halves()
    rows = [a.features() for a in train]
    labels = [a.acceptable for a in train]
    seed, grid = 5, (0.3, 3.0)
    best, losses = training.choose_l2(rows, labels, seed=seed, grid=grid)
    order = list(range(len(rows)))
    random.Random(seed + 1).shuffle(order)
    for l2 in grid:
        total = 0.0
        for k in range(5):
            held = order[k::5]
            fit = [i for i in order if i not in held]
            bias, weights = training.fit_logistic(
                [rows[i] for i in fit], [labels[i] for i in fit], l2=l2
            )
            for i in held:
                p = sigmoid(bias + sum(w * x for w, x in zip(weights, rows[i], strict=True)))
                total -= math.log(p if labels[i] else 1.0 - p)
        assert losses[str(l2)] == pytest.approx(total / len(rows), abs=0.5e-5 + 1e-12)
    assert best == min(grid, key=lambda l2: losses[str(l2)])


def test_evaluation_metrics_match_plain_formulas_on_the_fixture() -> None:
    """Brier, AUC and the reliability table of the packaged math model on the fixture's
    held-out half equal the same figures computed from scratch."""
    _, held = fixture_math_halves()
    model = default_scorer().models["math"]
    probabilities = [model.probability(a.features()) for a in held]
    labels = [a.acceptable for a in held]
    expected = heldout.recompute(model, held)
    assert evaluation.brier(probabilities, labels) == pytest.approx(expected["brier"])
    assert evaluation.roc_auc(probabilities, labels) == pytest.approx(expected["auc"])
    table = evaluation.reliability_table(probabilities, labels)
    assert [
        {
            "bin": f"{b.low:.1f}-{b.high:.1f}",
            "n": b.count,
            "predicted": pytest.approx(b.mean_predicted),
            "observed": pytest.approx(b.observed),
        }
        for b in table
    ] == expected["reliability"]
