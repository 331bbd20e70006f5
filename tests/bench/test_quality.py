"""bench.quality on the importer fixtures: its split is the verifier scorer's own (so the
scorer is never scored on a prompt it was fitted on) and a dataset becomes table rows."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench import quality, quality_strategies
from switchyard.checks import training
from switchyard.learning.importers import import_gsm8k, import_routerarena

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
