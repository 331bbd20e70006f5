"""Offline evaluation: the router's own code over replayed answers, the references, and
`switchyard eval` end to end on a four-model dataset built here."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest

from switchyard.checks import training
from switchyard.checks.features import FEATURE_NAMES
from switchyard.checks.scorer import LogisticModel, save_scorer
from switchyard.cli.main import main
from switchyard.learning.dataset import DatasetRecord, Message, ModelAnswer, write_dataset
from switchyard.learning.evaluate import EvaluationError, build_setup, parse_model_map
from switchyard.learning.inprocess_router import load_profiles
from switchyard.learning.report import run_evaluation
from tests.learning.synthetic import (
    BAD,
    GOOD,
    PRICES,
    QUALITY,
    fleet_file,
    four_model_dataset,
)

CASCADE = """
name: cheap-first
budget_micros: 1000000
checks: [{name: length, params: {min_chars: 20}}]
default:
  name: weak-then-strong
  strategy: {kind: cascade, stages: [{model: weak}, {model: strong}]}
"""


def _answer(text: str, quality: float, cost: int) -> ModelAnswer:
    return ModelAnswer(
        quality=quality, input_tokens=10, output_tokens=20, answer=text, cost_micros=cost
    )


def _two_model_records() -> list[DatasetRecord]:
    """weak is right on #0 and #1 (long answers) and wrong on #2 and #3 (short ones the
    length check rejects); strong is right on #0-#2. weak costs 10 µUSD, strong 100."""
    weak = [(GOOD, 1.0), (GOOD, 1.0), (BAD, 0.0), (BAD, 0.0)]
    strong = [(GOOD, 1.0), (GOOD, 1.0), (GOOD, 1.0), (GOOD, 0.0)]
    return [
        DatasetRecord(
            id=f"r{i}",
            messages=(Message("user", f"question {i}"),),
            task_type="math",
            answers={
                "ds-weak": _answer(w[0], w[1], 10),
                "ds-strong": _answer(s[0], s[1], 100),
            },
        )
        for i, (w, s) in enumerate(zip(weak, strong, strict=True))
    ]


def test_cascade_through_the_router_by_hand(tmp_path: Path) -> None:
    """The cascade escalates #2 and #3 (rejected by the length check) and serves strong.

    policy: quality (1+1+1+0)/4 = .75, cost (4·10 + 2·100)/4 = 60, strong calls 50 %,
            PGR (.75-.5)/(.75-.5) = 1
    oracle: weak on #0, #1, #3 (nobody right on #3: cheapest), strong on #2:
            quality .75, cost (3·10 + 100)/4 = 32.5
    random at cost 60: strong share (60-10)/90 = 5/9, quality .5 + .25·5/9 = .63889
    AIQ on [10, 100]: policy .75·40/90 = .33333, weak .5, strong 0, oracle .75·67.5/90
            = .5625, random (the weak-strong line) (.5+.75)/2 = .625
    """
    setup = build_setup(
        _two_model_records(),
        load_profiles(fleet_file(tmp_path / "fleet.yaml", {"weak": 1000, "strong": 10000})),
        parse_model_map("weak=ds-weak,strong=ds-strong"),
    )
    report = asyncio.run(run_evaluation(setup, CASCADE, dataset="hand"))
    assert report.weak_strong == ("weak", "strong")
    policy = report.row("policy cheap-first")
    assert policy.point.quality == pytest.approx(0.75)
    assert policy.point.cost_micros == pytest.approx(60)
    assert policy.point.strong_fraction == pytest.approx(0.5)
    assert policy.escalation_rate == pytest.approx(0.5)
    assert dict(policy.call_share) == {"weak": pytest.approx(4 / 6), "strong": pytest.approx(2 / 6)}
    oracle = report.row("oracle")
    assert (oracle.point.quality, oracle.point.cost_micros) == (0.75, 32.5)
    random_row = report.row("random")
    assert random_row.point.quality == pytest.approx(0.5 + 0.25 * 5 / 9)
    assert random_row.apgr == pytest.approx(0.5)
    expected_aiq = {
        "policy cheap-first": 0.75 * 40 / 90,
        "weak": 0.5,
        "strong": 0.0,
        "oracle": 0.75 * 67.5 / 90,
        "random": 0.625,
    }
    assert {name: report.row(name).aiq for name in expected_aiq} == pytest.approx(expected_aiq)


def test_a_sweep_moves_the_threshold_and_keeps_the_endpoints(tmp_path: Path) -> None:
    """Sweeping the length check's neighbour knob, min_score, with explicit values: 0 is
    the policy as written; every point's figures come from a separate routed run."""
    setup = build_setup(
        _two_model_records(),
        load_profiles(fleet_file(tmp_path / "fleet.yaml", {"weak": 1000, "strong": 10000})),
        parse_model_map("weak=ds-weak,strong=ds-strong"),
    )
    from switchyard.learning.sweep import parse_sweep

    report = asyncio.run(
        run_evaluation(setup, CASCADE, dataset="hand", sweep=parse_sweep("min_score=0,0.5"))
    )
    sweep = next(r for r in report.rows if r.kind == "sweep")
    assert [p.setting for p in sweep.curve] == ["min_score=0", "min_score=0.5"]
    assert sweep.curve[0].quality == pytest.approx(0.75)
    assert sweep.apgr is not None and sweep.aiq is not None


def test_bad_mappings_are_refused(tmp_path: Path) -> None:
    """A mapping to a model the fleet or the data lacks, or a policy calling an unmapped
    model, is a clear EvaluationError."""
    records = _two_model_records()
    profiles = load_profiles(fleet_file(tmp_path / "fleet.yaml", {"weak": 1000, "strong": 10000}))
    with pytest.raises(EvaluationError, match="not in the fleet"):
        build_setup(records, profiles, {"nope": "ds-weak"})
    with pytest.raises(EvaluationError, match="answers no record"):
        build_setup(records, profiles, {"weak": "ds-nope"})
    with pytest.raises(EvaluationError, match="FLEET_MODEL=DATASET_MODEL"):
        parse_model_map("weak")
    with pytest.raises(EvaluationError, match="no fleet model stands for"):
        build_setup(records, profiles, {})
    setup = build_setup(records, profiles, {"weak": "ds-weak"})
    with pytest.raises(EvaluationError, match="strong, which stand"):
        asyncio.run(run_evaluation(setup, CASCADE, dataset="hand"))


# -- four models, built here ---------------------------------------------------------

FOUR_MODEL_POLICY = """
name: four
budget_micros: 1000000
checks: [{name: length, params: {min_chars: 20}}]
rules:
  - name: code
    when: {task_types: [code_generation]}
    strategy: {kind: cascade, stages: [{model: coder-x}, {model: big-x}]}
default:
  name: tiny-mid-big
  strategy: {kind: cascade, stages: [{model: tiny-x}, {model: mid-x}, {model: big-x}]}
"""


def test_switchyard_eval_on_four_models_reports_aiq_and_draws_the_curve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`switchyard eval` with --map and --sweep on a synthetic four-model dataset: AIQ
    for the policy and for each single model, the single-model qualities equal the
    labels' means, and a valid PNG is written."""
    pytest.importorskip("matplotlib")
    records = four_model_dataset(tmp_path / "synthetic.jsonl")
    fleet = fleet_file(tmp_path / "fleet.yaml", {f"{m}-x": p for m, p in PRICES.items()})
    (tmp_path / "policy.yaml").write_text(FOUR_MODEL_POLICY)
    png, report_json = tmp_path / "curve.png", tmp_path / "report.json"
    args = [
        "eval",
        *(
            "--dataset",
            str(tmp_path / "synthetic.jsonl"),
            "--policy",
            str(tmp_path / "policy.yaml"),
        ),
        *(
            "--fleet",
            str(fleet),
            "--map",
            "tiny-x=tiny,mid-x=mid",
            "--map",
            "coder-x=coder,big-x=big",
        ),
        *("--sweep", "min_score", "--sweep-points", "5"),
        *("--png", str(png), "--json", str(report_json)),
    ]
    code = main(args)
    assert code == 0
    printed = capsys.readouterr().out
    rows = {r["name"]: r for r in json.loads(report_json.read_text())["rows"]}
    for model in QUALITY:
        row = rows[f"{model}-x"]
        labels = [r.answers[model].quality for r in records]
        assert row["point"]["quality"] == pytest.approx(sum(labels) / len(labels))
        assert 0.0 <= row["aiq"] <= 1.0
        assert row["apgr"] is None  # four models: no weak/strong pair
        assert f"{model}-x" in printed
    policy = rows["policy four"]
    assert 0.0 < policy["aiq"] <= 1.0
    assert policy["escalation_rate"] > 0
    assert set(policy["call_share"]) == {f"{m}-x" for m in QUALITY}
    sweep = next(r for r in rows.values() if r["kind"] == "sweep")
    assert len(sweep["curve"]) >= 3 and sweep["aiq"] is not None
    assert "AIQ" in printed and "policy four" in printed
    data = png.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


def test_switchyard_eval_refuses_bad_input_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty dataset and an unknown --map model end with exit 2 and one message."""
    fleet = fleet_file(tmp_path / "fleet.yaml", {"weak": 1000})
    (tmp_path / "policy.yaml").write_text(CASCADE)
    (tmp_path / "empty.jsonl").write_text("")
    args = ["eval", "--policy", str(tmp_path / "policy.yaml"), "--fleet", str(fleet)]
    assert main([*args, "--dataset", str(tmp_path / "empty.jsonl")]) == 2
    assert "holds no records" in capsys.readouterr().err
    write_dataset(tmp_path / "d.jsonl", _two_model_records())
    assert main([*args, "--dataset", str(tmp_path / "d.jsonl"), "--map", "zz=ds-weak"]) == 2
    assert "'zz' is not in the fleet" in capsys.readouterr().err


def test_switchyard_eval_scores_with_the_scorer_it_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--scorer-path` is the router's setting offline: with a scorer rating every answer
    0.9 the min_score 0.5 cascade keeps weak's long answers (#0, #1); with one rating
    them 0.1 it escalates all four. A file that is no scorer is exit 2, naming it."""
    fleet = fleet_file(tmp_path / "fleet.yaml", {"weak": 1000, "strong": 10_000})
    (tmp_path / "policy.yaml").write_text(
        CASCADE.replace("  strategy:", "  min_score: 0.5\n  strategy:")
    )
    write_dataset(tmp_path / "d.jsonl", _two_model_records())
    args = [
        "eval",
        *("--policy", str(tmp_path / "policy.yaml"), "--fleet", str(fleet)),
        *("--dataset", str(tmp_path / "d.jsonl"), "--map", "weak=ds-weak,strong=ds-strong"),
    ]
    rates = []
    for score in (0.9, 0.1):
        general = LogisticModel(
            "general", (), math.log(score / (1 - score)), (0.0,) * len(FEATURE_NAMES), {}
        )
        scorer = tmp_path / f"scorer-{score}.json"
        save_scorer(training.build_scorer([general], default_model="general"), scorer)
        out = tmp_path / f"report-{score}.json"
        assert main([*args, "--scorer-path", str(scorer), "--json", str(out)]) == 0
        rows = {r["name"]: r for r in json.loads(out.read_text())["rows"]}
        rates.append(rows["policy cheap-first"]["escalation_rate"])
    assert rates == [0.5, 1.0]
    (tmp_path / "broken.json").write_text("{}")
    assert main([*args, "--scorer-path", str(tmp_path / "broken.json")]) == 2
    assert "broken.json" in capsys.readouterr().err
