"""`make bench-quality`'s issue-12 targets: best learned strategy per dataset, and the
score selector's curve against every single model."""

from __future__ import annotations

from types import SimpleNamespace

from bench.quality_targets import dominated_by, dominates, targets
from switchyard.learning.evaluate import OperatingPoint, StrategyResult


def _p(cost: float, quality: float) -> OperatingPoint:
    return OperatingPoint(quality=quality, cost_micros=cost, strong_fraction=0.0, setting="")


def _row(name: str, kind: str, curve=(), point=None, apgr=None, cpt50=None) -> StrategyResult:
    return StrategyResult(
        name=name, kind=kind, point=point, curve=tuple(curve), apgr=apgr, cpt50=cpt50
    )


def test_domination_needs_no_worse_on_both_and_better_on_one() -> None:
    assert dominates(_p(1, 0.9), _p(2, 0.9)) and dominates(_p(2, 0.95), _p(2, 0.9))
    assert not dominates(_p(2, 0.9), _p(2, 0.9))  # equal: neither dominates
    assert not dominates(_p(1, 0.8), _p(2, 0.9))  # cheaper but worse
    curve = [_p(1, 0.5), _p(3, 0.9)]
    assert not dominated_by(curve, _p(2, 0.95))  # the cheap point escapes it
    assert dominated_by(curve, _p(1, 0.95))
    assert not dominated_by([], _p(0, 1.0))


def test_targets_take_the_best_learned_row_and_judge_the_selector_curve() -> None:
    """The oracle never counts as the best strategy; a selector curve that a single
    model beats everywhere is reported MISSED with that model's name."""
    gsm = SimpleNamespace(
        name="gsm8k",
        rows=[
            _row("oracle", "oracle", apgr=0.99, cpt50=0.01),
            _row("cascade a", "cascade", apgr=0.80, cpt50=0.16),
            _row("cascade b", "cascade", apgr=0.70, cpt50=0.14),
            _row("score selector + predictor", "sweep", curve=[_p(5, 0.5), _p(9, 0.6)]),
            _row("score selector + predictor, share swept", "sweep", curve=[_p(4, 0.75)]),
            _row("cheap", "model", point=_p(4, 0.7), curve=[_p(4, 0.7)]),
            _row("dear", "model", point=_p(10, 0.9), curve=[_p(10, 0.9)]),
        ],
    )
    found = {t.name: t for t in targets([gsm])}
    assert found["gsm8k: best APGR"].met is True
    assert "0.800 (cascade a)" == found["gsm8k: best APGR"].measured
    assert found["gsm8k: best CPT(50 %)"].met is True  # 14 % from cascade b
    curve = found["gsm8k: score selector curve not dominated"]
    assert curve.met is False and curve.measured == "dominated by cheap"
    # Two rows of one selector are told apart by what they sweep.
    assert found["gsm8k: score selector (share swept) curve not dominated"].met is True
