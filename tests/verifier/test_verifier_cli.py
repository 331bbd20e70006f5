"""`switchyard verifier train|eval` on a small slice of the real datasets."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from switchyard.checks import training
from switchyard.checks.scorer import load_scorer
from switchyard.cli import verifier as cli
from tests.verifier import heldout

FIXTURE_DATA = Path(__file__).parent / "fixtures" / "data"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="switchyard")
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_register_adds_train_and_eval() -> None:
    """register() adds `verifier train` and `verifier eval`, each with a func."""
    train = parse(["verifier", "train", "--seed", "3", "--out", "x.json"])
    assert train.func is cli.run_train and train.seed == 3 and train.out == Path("x.json")
    evaluate = parse(["verifier", "eval", "--artifact", "y.json"])
    assert evaluate.func is cli.run_eval and evaluate.artifact == Path("y.json")


def test_train_then_eval(tmp_path: Path) -> None:
    """train writes a loadable artefact with held-out metrics; eval prints APGR and CPT."""
    artefact = tmp_path / "scorer.json"
    out = io.StringIO()
    args = parse(["verifier", "train", "--data-dir", str(FIXTURE_DATA), "--out", str(artefact)])
    assert cli.run_train(args, out) == 0
    scorer = load_scorer(artefact)
    assert f"quality scorer {scorer.version} written" in out.getvalue()
    assert "Brier=" in out.getvalue() and "reliability" in out.getvalue()
    math_training = scorer.models["math"].training
    assert math_training["n_train"] == 24 and math_training["heldout"]["n"] == 24

    out = io.StringIO()
    args = parse(["verifier", "eval", "--data-dir", str(FIXTURE_DATA), "--artifact", str(artefact)])
    assert cli.run_eval(args, out) == 0
    text = out.getvalue()
    assert "n=24" in text and "APGR      =" in text and "CPT(50%)  =" in text


@pytest.mark.parametrize("flags", [[], ["--answer-embedding"]])
def test_trained_artifact_heldout_figures_match_the_fixture(tmp_path: Path, flags) -> None:
    """The held-out figures `verifier train` stores for each model are what the fitted
    weights give on the fixture's held-out half, recomputed here from the data; without
    --answer-embedding no model reads the embedding, with it each model records both
    cross-validated choices."""
    artefact = tmp_path / "scorer.json"
    argv = ["verifier", "train", "--data-dir", str(FIXTURE_DATA), "--out", str(artefact)]
    assert cli.run_train(parse([*argv, *flags]), io.StringIO()) == 0
    scorer = load_scorer(artefact)
    for model in scorer.models.values():
        assert model.training["cv_log_loss_with_embedding"] or not flags
        assert bool(model.embedding_weights) == model.training["answer_embedding"]
        assert not model.embedding_weights or flags
    seed = training.DEFAULT_SEED
    gsm_train, gsm_held = training.gsm8k_split(training.read_gsm8k(FIXTURE_DATA), seed)
    arena_train, arena_held = training.arena_split(training.read_routerarena(FIXTURE_DATA), seed)
    for name, train, answers in (
        ("math", gsm_train, training.gsm8k_answers(gsm_held)),
        ("general", arena_train, training.arena_answers(arena_held)),
    ):
        model = scorer.models[name]
        assert model.training["n_train"] == len(train) and model.training["seed"] == seed
        recomputed = heldout.recompute(model, answers, scorer.embedding)
        heldout.assert_matches(model.training["heldout"], recomputed)


def test_train_is_deterministic(tmp_path: Path) -> None:
    """The same data and seed give the same artefact version."""
    versions = set()
    for name in ("a.json", "b.json"):
        args = parse(
            ["verifier", "train", "--data-dir", str(FIXTURE_DATA), "--out", str(tmp_path / name)]
        )
        assert cli.run_train(args, io.StringIO()) == 0
        versions.add(load_scorer(tmp_path / name).version)
    assert len(versions) == 1


def test_missing_data_is_an_error(tmp_path: Path, capsys) -> None:
    """A data dir without the datasets exits 2 with a one-line message."""
    args = parse(["verifier", "train", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")])
    assert cli.run_train(args, io.StringIO()) == 2
    assert "cannot read data" in capsys.readouterr().err
    args = parse(["verifier", "eval", "--artifact", str(tmp_path / "missing.json")])
    assert cli.run_eval(args, io.StringIO()) == 2
