"""The quality scorer: arithmetic checking, features, artefact loading and scoring."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from switchyard.checks import CheckSpec, compile_specs, training
from switchyard.checks.arithmetic import equation_errors, evaluate
from switchyard.checks.features import FEATURE_NAMES, extract
from switchyard.checks.scorer import (
    DEFAULT_ARTIFACT,
    EMBEDDING_FORMAT,
    ArtifactError,
    LogisticModel,
    LogisticQualityScorer,
    answer_embedding,
    default_scorer,
    load_scorer,
    parse_artifact,
    save_scorer,
)
from switchyard.cli.verifier import default_data_dir
from switchyard.learning.features import default_spec
from tests.verifier import heldout

PROMPT = (
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast and bakes muffins "
    "with four. She sells the remainder for $2 per egg. How much does she make every day?"
)
GOOD = (
    "She has 16 - 3 = <<16-3=13>>13 eggs after breakfast.\n"
    "After baking she has 13 - 4 = <<13-4=9>>9 eggs.\n"
    "She makes 9 * $2 = $<<9*2=18>>18.\n#### 18"
)
BAD = (
    "She has 16 - 3 = <<16-3=12>>12 eggs after breakfast, approximately.\n"
    "She sells them, however she might keep some, so about 12 / 2.5 = 4.8.\n"
    "#### 4.8 dollars or so"
)


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("5*75+120", 495.0),
        ("84 * (5/14)", 30.0),
        ("9 * $2", 18.0),
        ("18 x 4", 72.0),
        ("1,000 / 4", 250.0),
        ("-3 + 5", 2.0),
        ("2 \\times 3", 6.0),
    ],
)
def test_evaluate_arithmetic(expr: str, value: float) -> None:
    """The evaluator handles the operators and number styles answers use."""
    assert evaluate(expr) == pytest.approx(value)


@pytest.mark.parametrize("expr", ["3", "1/0", "2 ** 3", "(1 + 2", "abc + 1", "1 +" * 100 + "1"])
def test_evaluate_refuses_non_arithmetic(expr: str) -> None:
    """No operator, division by zero, unknown syntax or too many tokens give None."""
    assert evaluate(expr) is None


def test_equation_errors_counts_wrong_steps() -> None:
    """Text equations and <<calculator>> annotations are both re-checked."""
    text = "16 - 3 = 13 and 9 * $2 = $18 <<5*75+120=675+120=795>> 3+4 = 8; eggs, 16-3=13"
    assert equation_errors(text) == (6, 2)


def test_equation_errors_is_bounded() -> None:
    """Only a bounded number of candidate equations is examined."""
    checked, _ = equation_errors("1+1=2 " * 10_000)
    assert checked <= 60


def test_features_vector_shape_and_range() -> None:
    """extract returns one finite value per feature name, within 0..1."""
    for output in (GOOD, BAD, "", "x" * 100_000, "{[" * 1000, "1 = " * 5000):
        features = extract(prompt=PROMPT, task_type="math", output=output, finish_reason="stop")
        assert len(features) == len(FEATURE_NAMES)
        named = dict(zip(FEATURE_NAMES, features, strict=True))
        assert all(0.0 <= f <= 1.0 for f in features), named


def test_features_see_consistency() -> None:
    """The consistency features tell a clean worked answer from a sloppy one."""
    good, bad = (
        dict(
            zip(
                FEATURE_NAMES,
                extract(prompt=PROMPT, task_type="math", output=text, finish_reason=""),
                strict=True,
            )
        )
        for text in (GOOD, BAD)
    )
    assert good["equation_wrong"] == 0.0 and bad["equation_wrong"] == 1.0
    assert good["final_integer"] == 1.0 and bad["final_integer"] == 0.0
    assert good["final_matches_last_computed"] == 1.0
    assert bad["hedges"] > good["hedges"]


def test_default_artifact_loads_and_scores() -> None:
    """The packaged artefact loads, has a content version, and ranks good above bad."""
    scorer = default_scorer()
    assert scorer.version.startswith("quality-v1-")
    assert {"math", "general"} <= set(scorer.models)
    good = scorer.score(prompt=PROMPT, task_type="math", output=GOOD, finish_reason="stop")
    bad = scorer.score(prompt=PROMPT, task_type="math", output=BAD, finish_reason="stop")
    assert 0.0 < bad < good < 1.0


def test_model_chosen_by_task_type() -> None:
    """math uses the GSM8K-trained model; other task types the general one."""
    scorer = default_scorer()
    assert scorer.model_for("math").name == "math"
    assert scorer.model_for("chat").name == scorer.default_model == "general"


DATA_DIR = default_data_dir()
needs_data = pytest.mark.skipif(
    not (DATA_DIR / training.GSM8K_FILE).is_file(),
    reason=f"the shared datasets are not under {DATA_DIR} (set SWITCHYARD_DATA_DIR)",
)


@needs_data
def test_packaged_math_model_heldout_figures_match_the_data() -> None:
    """The packaged math model's held-out figures (n, base rate, Brier, base-rate Brier,
    AUC, reliability) are what its weights give on the GSM8K held-out half, recomputed here;
    the model beats the base rate, and its train half has the recorded size."""
    model = default_scorer().models["math"]
    info = model.training
    train, held = training.gsm8k_split(training.read_gsm8k(DATA_DIR), info["seed"])
    assert info["n_train"] == len(train)
    recomputed = heldout.recompute(model, training.gsm8k_answers(held), default_scorer().embedding)
    heldout.assert_matches(info["heldout"], recomputed)
    assert recomputed["brier"] < recomputed["brier_base_rate"]


@needs_data
def test_packaged_general_model_heldout_figures_match_the_data() -> None:
    """The same for the general model on the RouterArena held-out half."""
    model = default_scorer().models["general"]
    info = model.training
    train, held = training.arena_split(training.read_routerarena(DATA_DIR), info["seed"])
    assert info["n_train"] == len(train)
    recomputed = heldout.recompute(model, training.arena_answers(held), default_scorer().embedding)
    heldout.assert_matches(info["heldout"], recomputed)
    assert recomputed["brier"] < recomputed["brier_base_rate"]


def test_save_and_load_roundtrip(tmp_path: Path) -> None:
    """save_scorer writes an artefact that load_scorer reads back identically."""
    path = tmp_path / "scorer.json"
    save_scorer(default_scorer(), path)
    loaded = load_scorer(path)
    assert loaded.version == default_scorer().version
    assert loaded.score(prompt=PROMPT, task_type="math", output=GOOD, finish_reason="") == (
        default_scorer().score(prompt=PROMPT, task_type="math", output=GOOD, finish_reason="")
    )


def test_artifact_for_other_features_is_refused() -> None:
    """An artefact trained on a different feature list is an ArtifactError naming the gap."""
    document = json.loads(DEFAULT_ARTIFACT.read_text())
    document["feature_names"] = document["feature_names"][:-1]
    with pytest.raises(ArtifactError, match="other features"):
        parse_artifact(document)


def _embedding_scorer() -> LogisticQualityScorer:
    """The packaged models plus a "reads" model with one weight per embedding dimension."""
    packaged = default_scorer()
    reads = LogisticModel(
        "reads", ("reasoning",), -0.5, (0.0,) * len(FEATURE_NAMES), {}, (0.25,) * 128
    )
    return training.build_scorer(
        [*packaged.models.values(), reads],
        default_model=packaged.default_model,
        embedding=default_spec().embedding,
    )


def test_an_answer_embedding_scorer_round_trips_as_format_2(tmp_path: Path, monkeypatch) -> None:
    """A scorer with embedding weights is saved as format 2 and loads back scoring the
    same; its models without embedding weights never compute the embedding."""
    scorer = _embedding_scorer()
    path = tmp_path / "scorer.json"
    save_scorer(scorer, path)
    document = json.loads(path.read_text())
    assert document["format"] == EMBEDDING_FORMAT
    assert document["answer_embedding"]["dim"] == 128
    assert "embedding_weights" not in document["models"]["math"]
    loaded = load_scorer(path)
    kwargs = {"prompt": PROMPT, "output": GOOD, "finish_reason": "stop"}
    for task in ("reasoning", "math"):
        assert loaded.score(task_type=task, **kwargs) == scorer.score(task_type=task, **kwargs)
    embedding = answer_embedding(default_spec().embedding, GOOD)
    expected = 1 / (1 + math.exp(0.5 - 0.25 * sum(embedding)))
    assert loaded.score(task_type="reasoning", **kwargs) == pytest.approx(expected, rel=1e-12)

    def refuse(*_args: object) -> list[float]:
        raise AssertionError("embedded an answer for a features-only model")

    monkeypatch.setattr("switchyard.checks.scorer.answer_embedding", refuse)
    assert loaded.score(task_type="math", **kwargs) == default_scorer().score(
        task_type="math", **kwargs
    )


def test_embedding_artefacts_that_do_not_add_up_are_refused() -> None:
    """Embedding weights without a format-2 embedding, of the wrong length, or a
    format-1 document carrying an embedding: each an ArtifactError."""
    document = _embedding_scorer().to_json()
    wrong_length = json.loads(json.dumps(document))
    wrong_length["models"]["reads"]["embedding_weights"] = [0.1] * 64
    with pytest.raises(ArtifactError, match="64 embedding weights"):
        parse_artifact(wrong_length)
    as_v1 = {**document, "format": "switchyard.quality_scorer/1"}
    with pytest.raises(ArtifactError, match="answer_embedding"):
        parse_artifact(as_v1)
    unnamed = {k: v for k, v in document.items() if k != "answer_embedding"}
    with pytest.raises(ArtifactError, match="answer_embedding"):
        parse_artifact(unnamed)
    bad_spec = {**document, "answer_embedding": {"config": "l2_supercat"}}
    with pytest.raises(ArtifactError, match="malformed answer_embedding"):
        parse_artifact(bad_spec)
    plain = training.build_scorer([default_scorer().models["math"]], "math").to_json()
    assert plain["format"] == "switchyard.quality_scorer/1"
    plain["models"]["math"]["embedding_weights"] = [0.1] * 128
    with pytest.raises(ArtifactError, match="embedding"):
        parse_artifact(plain)


@pytest.mark.parametrize("content", ["", "{", '{"format": "something-else"}'])
def test_unreadable_artifact(tmp_path: Path, content: str) -> None:
    """Missing, malformed or foreign artefacts raise ArtifactError."""
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ArtifactError):
        load_scorer(path)
    with pytest.raises(ArtifactError):
        load_scorer(tmp_path / "missing.json")


def test_engine_uses_scorer_for_min_score() -> None:
    """Embedded use: deterministic checks plus the packaged scorer gate the verdict."""
    compiled = compile_specs(
        [CheckSpec("non_empty"), CheckSpec("final_answer")], scorer=default_scorer()
    )
    kwargs = {"prompt": PROMPT, "task_type": "math", "finish_reason": "stop"}
    good = compiled.verify(output=GOOD, min_score=0.5, **kwargs)
    assert good.verdict == "accept" and good.results[-1].name == "quality"
    strict = compiled.verify(output=GOOD, min_score=0.999, **kwargs)
    assert strict.verdict == "reject" and "below min_score" in strict.results[-1].reason


def test_warm_loads_the_embedding_only_for_a_scorer_that_reads_it(monkeypatch) -> None:
    """The verifier warms its scorer at start-up: one embedding for a scorer whose
    models read it (WordLlama loads then, not on the first Verify), none otherwise."""
    calls: list[str] = []
    monkeypatch.setattr(
        "switchyard.checks.scorer.answer_embedding", lambda _spec, text: calls.append(text)
    )
    default_scorer().warm()
    assert calls == []
    _embedding_scorer().warm()
    assert len(calls) == 1
