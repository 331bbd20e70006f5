"""Sweeps: knob specs, which rules a knob moves, and selector knobs moving the curve."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from switchyard.cli.main import main
from switchyard.learning.evaluate import build_setup, parse_model_map
from switchyard.learning.inprocess_router import Call, RoutedRequest, load_profiles
from switchyard.learning.report import sweep_result
from switchyard.learning.sweep import KNOBS, SweepError, load_policy_document, parse_sweep
from tests.learning.synthetic import PRICES, QUALITY, fleet_file, four_model_dataset

SELECTORS = """
name: selectors
budget_micros: 1000000
checks: [{name: length, params: {min_chars: 20}}]
rules:
  - name: single-tiny
    when: {task_types: [chat]}
    strategy: {kind: single, model: tiny-x}
  - name: code-score
    when: {task_types: [code_generation]}
    strategy:
      selector: score
      models: [tiny-x, mid-x, coder-x, big-x]
      weights: {quality: 1.0, cost: 0.5, latency: 0.0}
      max_fallbacks: 1
default:
  name: auto
  strategy: {selector: auto, models: [tiny-x, mid-x, big-x], max_depth: 2, min_quality: 0.8}
"""


def test_value_specs() -> None:
    """Explicit lists, start:stop:count ranges, named knobs and dotted paths parse; an
    unknown bare name, a bad number or a one-point range is refused."""
    assert parse_sweep("min_score=0.2,0.5").values == (0.2, 0.5)
    assert parse_sweep("quality_floor=0.5:0.9:3").values == pytest.approx((0.5, 0.7, 0.9))
    assert parse_sweep("min_score").values is None
    assert parse_sweep("default.min_score=0.1").name == "default.min_score"
    for bad in ("nonsense", "min_score=a,b", "min_score=0:1:1", "=0.5"):
        with pytest.raises(SweepError):
            parse_sweep(bad)


def test_knobs_move_only_the_rules_they_apply_to() -> None:
    """min_score moves the score and auto rules (they escalate) but not the single one;
    cost_weight only the score rule's weights; quality_floor only the auto rule; a dotted
    path picks a rule by name."""
    document = load_policy_document(SELECTORS)
    moved = KNOBS["min_score"].apply(document, 0.4)
    assert [r.get("min_score") for r in (*moved["rules"], moved["default"])] == [None, 0.4, 0.4]
    moved = KNOBS["cost_weight"].apply(document, 2.0)
    assert moved["rules"][1]["strategy"]["weights"] == {"quality": 1.0, "cost": 2.0, "latency": 0.0}
    assert "weights" not in moved["default"]["strategy"]
    moved = KNOBS["quality_floor"].apply(document, 0.95)
    assert moved["default"]["strategy"]["min_quality"] == 0.95
    assert moved["rules"][1]["strategy"].get("min_quality") is None
    moved = parse_sweep("rules.code-score.min_score=0.3").knob.apply(document, 0.3)
    assert moved["rules"][1]["min_score"] == 0.3 and "min_score" not in moved["default"]
    with pytest.raises(SweepError, match="has none"):
        KNOBS["quality_floor"].apply(load_policy_document("name: x\ndefault: {}\n"), 0.5)
    moved = KNOBS["escalate_gain"].apply(document, -0.25)  # cascades: the auto rule here
    assert [r.get("escalate_gain") for r in (*moved["rules"], moved["default"])] == [
        None,
        None,
        -0.25,
    ]
    with pytest.raises(SweepError, match="outside"):
        KNOBS["escalate_gain"].apply(document, 1.5)


def test_quality_floor_sweep_buys_quality_with_cost(tmp_path: Path) -> None:
    """On the four-model data with registry quality per task, raising the auto rule's
    floor from 0.5 to 0.99 picks dearer cascades: cost and quality both rise."""
    records = four_model_dataset(tmp_path / "data.jsonl")
    fleet = fleet_file(
        tmp_path / "fleet.yaml",
        {f"{m}-x": p for m, p in PRICES.items()},
        quality={f"{m}-x": q for m, q in QUALITY.items()},
    )
    setup = build_setup(
        records,
        load_profiles(fleet),
        parse_model_map("tiny-x=tiny,mid-x=mid,coder-x=coder,big-x=big"),
    )
    row = asyncio.run(
        sweep_result(setup, SELECTORS, parse_sweep("quality_floor=0.5,0.99"), name="p", strong=None)
    )
    low, high = row.curve
    assert high.cost_micros > low.cost_micros * 2
    assert high.quality > low.quality + 0.1


def test_cost_weight_grid_is_zero_then_log_spaced() -> None:
    """0, then weights from 0.005 to 5 at a constant ratio: the small weights, where a
    choice between models changes, get most of the points."""
    grid = KNOBS["cost_weight"].grid([], 5)
    assert grid == pytest.approx([0.0, 0.005, 0.05, 0.5, 5.0])
    assert KNOBS["cost_weight"].pilot_value() is None


def test_gain_grid_comes_from_the_pilots_gaps() -> None:
    """The escalate_gain grid: the next planned stage's predicted quality minus each
    scored stage's score (the last stage's score never counts), plus -1 and 1."""

    def routed(scores: tuple[float, float], quality: tuple[float, float]) -> RoutedRequest:
        calls = tuple(
            Call(model, i, "ok", True, False, score, 10.0, 5, 5, 1)
            for i, (model, score) in enumerate(zip(("weak", "strong"), scores, strict=True))
        )
        return RoutedRequest(
            rule="r",
            planned=("weak", "strong"),
            served_model="strong",
            degraded=False,
            calls=calls,
            escalations=1,
            planned_quality=quality,
        )

    pilot = [routed((0.5, 0.1), (0.6, 0.9)), routed((0.8, 0.2), (0.6, 0.7))]
    assert KNOBS["escalate_gain"].pilot_value() == -1.0
    assert KNOBS["escalate_gain"].grid(pilot, 2) == pytest.approx([-1.0, -0.1, 0.4, 1.0])
    assert KNOBS["escalate_gain"].grid([], 5) == [-1.0, 1.0]


def test_floor_grid_comes_from_the_cascades_weighed() -> None:
    """The quality_floor grid: the pilot (at 1, so every cascade is weighed) gives each
    auto plan's cascade qualities; the floors sit at them (rounded down, so a floor
    admits its cascade), plus 0 and 1; a pilot with no auto plan gives an even grid."""

    def routed(options: tuple[float, ...]) -> RoutedRequest:
        return RoutedRequest(
            rule="r",
            planned=("weak",),
            served_model="weak",
            degraded=False,
            calls=(),
            escalations=0,
            option_quality=options,
        )

    knob = KNOBS["quality_floor"]
    assert knob.pilot_value() == 1.0
    grid = knob.grid([routed((0.6, 0.9)), routed((0.7, 0.95))], 4)
    assert grid == pytest.approx([0.0, 0.6, 0.7, 0.9, 0.95, 1.0])
    assert knob.grid([routed(())], 3) == pytest.approx([0.0, 0.5, 1.0])


def test_eval_help_names_every_named_knob(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    printed = " ".join(capsys.readouterr().out.split())
    assert all(name in printed for name in KNOBS)
