"""bench.quality on the importer fixtures: its split is the verifier scorer's own (so the
scorer is never scored on a prompt it was fitted on) and a dataset becomes table rows."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bench import quality, quality_every, quality_strategies
from bench.quality_common import NEEDS_PAIR
from switchyard.checks import training
from switchyard.learning.importers import import_gsm8k, import_routerarena
from tests.learning.synthetic import PRICES, QUALITY, fleet_file, four_model_dataset

FIXTURES = Path(__file__).resolve().parents[1] / "learning" / "fixtures"


def test_split_is_the_scorers_own() -> None:
    """GSM8K and RouterArena held-out halves hold exactly the prompts the verifier's
    training held out (same rule, same seed, importer ids sorting like its row keys)."""
    _, held = quality.split(import_gsm8k(FIXTURES))
    _, verifier_held = training.gsm8k_split(training.read_gsm8k(FIXTURES), quality.SPLIT_SEED)
    assert held and [r.prompt for r in held] == [it.prompt for it in verifier_held]
    _, held = quality.split(import_routerarena(FIXTURES))
    _, arena_held = training.arena_split(training.read_routerarena(FIXTURES), quality.SPLIT_SEED)
    assert {r.prompt for r in held} == {row.prompt for row in arena_held}


def test_a_dataset_becomes_rows_with_the_references() -> None:
    """RouterArena's fixture slice: one row per single model, the oracle and random,
    every row with an AIQ, and strategies either evaluated or skipped with a reason."""
    result = asyncio.run(quality.bench_dataset(quality.DATASETS[-1], FIXTURES, points=4))
    names = [r.name for r in result.rows]
    assert {"claude-3-haiku", "gemini-2.0-flash", "oracle", "random"} <= set(names)
    assert all(r.aiq is not None for r in result.rows)
    evaluated = {r.name for r in result.rows if r.kind in ("cascade", "sweep", "policy")}
    skipped = {name for name, _ in result.skipped}
    assert evaluated | skipped == {s.name for s in quality_strategies.strategies(4)}
    assert "routerarena" in quality.results_table([result])


def test_ensemble_rows_pay_both_models_and_serve_one_of_their_answers() -> None:
    """parallel(2) and vote(2) on RouterArena's fixture slice: every request calls both models, so a
    row costs the two single models' rows together; the quality served lies between
    the worse single model and the oracle; with two voters a disagreement is a tie that
    the verifier score breaks, which is the parallel's choice too."""
    result = asyncio.run(quality.bench_dataset(quality.DATASETS[-1], FIXTURES, points=4))
    rows = {r.name: r for r in result.rows}
    weak, strong = rows["claude-3-haiku"].point, rows["gemini-2.0-flash"].point
    oracle = rows["oracle"].point
    assert weak is not None and strong is not None and oracle is not None
    parallel = rows["parallel(2), verifier-ranked"].point
    vote = rows["vote(2) on final answers/labels, tie → verifier score"].point
    assert parallel is not None and vote is not None
    for point in (parallel, vote):
        assert abs(point.cost_micros - (weak.cost_micros + strong.cost_micros)) < 1e-6
        assert point.strong_fraction == 1.0
        assert min(weak.quality, strong.quality) <= point.quality <= oracle.quality
    assert vote.quality == parallel.quality


def _own_data(tmp_path: Path) -> tuple[Path, Path]:
    dataset = tmp_path / "team.jsonl"
    four_model_dataset(dataset, n=240)
    return dataset, fleet_file(tmp_path / "fleet.yaml", PRICES, quality=QUALITY)


def test_a_teams_own_four_model_dataset_gets_the_every_model_selector_rows(tmp_path) -> None:
    """`--dataset FILE` with four models: the two-model rows are skipped with a reason,
    and the router's score and auto selectors over every model, with a predictor fitted
    on the train half, are swept on held-out; on this data (each model best at its own
    task types) the learned score selector beats every single model's AIQ."""
    dataset, fleet = _own_data(tmp_path)
    out = tmp_path / "out"
    code = quality.main(
        ["--dataset", str(dataset), "--fleet", str(fleet), "--points", "4", "--out-dir", str(out)]
    )
    assert code == 0
    (report,) = json.loads(next(out.glob("quality-*.json")).read_text())["datasets"]
    assert report["name"] == "team" and report["weak_strong"] is None
    rows = {r["name"]: r for r in report["rows"]}
    score = rows[quality_every.EveryModelScore.name]
    auto = rows[quality_every.EveryModelAuto.name]
    assert len(score["curve"]) >= 2 and len(auto["curve"]) >= 2
    singles = [rows[m]["aiq"] for m in PRICES]
    assert score["aiq"] > max(singles)
    skipped = dict(report["skipped"])
    assert skipped[quality_strategies.LearnedScore.name] == NEEDS_PAIR
    assert {
        t["name"] for t in json.loads(next(out.glob("quality-*.json")).read_text())["targets"]
    } == {
        "team: score selector over every model (cost weight swept) curve not dominated",
        "team: auto selector over every model (quality floor swept) curve not dominated",
    }


def test_own_dataset_errors_name_what_to_fix(tmp_path, capsys) -> None:
    """A dataset model no fleet model stands for, and a file named like a shipped
    dataset (its targets and checks go by name), are refused before anything runs."""
    dataset, fleet = _own_data(tmp_path)
    other_fleet = fleet_file(tmp_path / "other.yaml", {"elsewhere": 1})
    assert quality.main(["--dataset", str(dataset), "--fleet", str(other_fleet)]) == 2
    assert "--map" in capsys.readouterr().err
    shipped_name = tmp_path / "gsm8k.jsonl"
    shipped_name.write_text(dataset.read_text())
    assert quality.main(["--dataset", str(shipped_name), "--fleet", str(fleet)]) == 2
    assert "names a shipped dataset" in capsys.readouterr().err
