"""`switchyard train verifier`: the verifier's quality scorer from any labelled dataset
with answer texts, one model per task family, in the verifier's own artefact format."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from switchyard.checks.scorer import load_scorer, save_scorer
from switchyard.cli.main import main
from switchyard.learning.dataset import DatasetRecord, Message, ModelAnswer, write_dataset
from switchyard.learning.heldout import split_records
from switchyard.learning.verifier_training import (
    VerifierTrainingError,
    family_of,
    train_verifier,
)


def _answer(good: bool, rng: random.Random, task_type: str) -> str:
    if task_type == "math":
        if good:
            return "First 3 * 4 = 12, then 12 + 5 = 17.\n#### 17"
        return rng.choice(["I cannot help with that.", "It might be about 20? Not sure", ""])
    if good:
        return "Paris is the capital of France; it sits on the Seine."
    return rng.choice(["I'm sorry, but I can't answer that.", "", "Hmm"])


def answered_records(n: int, *, seed: int = 1, with_text: bool = True) -> list[DatasetRecord]:
    """Math and chat prompts; `weak` answers well 40% of the time, `strong` 85%."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        task_type = "math" if i % 2 else "chat"
        prompt = "What is 3 * 4 + 5?" if task_type == "math" else "What is the capital of France?"
        answers = {}
        for model, rate in (("weak", 0.4), ("strong", 0.85)):
            good = rng.random() < rate
            answers[model] = ModelAnswer(
                quality=1.0 if good else 0.0,
                input_tokens=10,
                output_tokens=12,
                answer=_answer(good, rng, task_type) if with_text else None,
            )
        records.append(DatasetRecord(f"q{i}", (Message("user", prompt),), task_type, answers))
    return records


def test_scorer_learns_answer_quality_per_family() -> None:
    """A math and a general model are fitted; held-out AUC (computed here from the
    scorer) is high, and escalating weak -> strong by the score beats random."""
    train, heldout = split_records(answered_records(300), seed=4)
    trained = train_verifier(train, heldout, seed=4)
    assert set(trained.scorer.models) == {"math", "general"}
    assert trained.scorer.model_for("math").name == "math"
    assert trained.scorer.model_for("summarization").name == "general"
    scores, labels = [], []
    for record in heldout:
        for answer in record.answers.values():
            scores.append(
                trained.scorer.score(
                    prompt=record.prompt,
                    task_type=record.task_type,
                    output=answer.answer or "",
                    finish_reason="stop",
                )
            )
            labels.append(answer.acceptable)
    assert roc_auc_score(labels, scores) > 0.9
    for family in ("math", "general"):
        report = trained.reports[family]
        assert report["heldout"]["n"] > 0 and report["escalation"]["apgr"] > 0.6


def test_cli_writes_the_verifiers_artefact_format(tmp_path: Path, capsys) -> None:
    """The artefact loads with the verifier's own loader, with held-out figures in it."""
    dataset = tmp_path / "answers.jsonl"
    write_dataset(dataset, answered_records(300))
    out = tmp_path / "scorer.json"
    assert main(["train", "verifier", "--dataset", str(dataset), "--out", str(out)]) == 0
    scorer = load_scorer(out)
    assert scorer.version in capsys.readouterr().out
    assert scorer.models["math"].training["heldout"]["auc"] > 0.9
    assert np.isfinite(scorer.models["general"].bias)


def test_dataset_without_answer_texts_is_refused(tmp_path: Path, capsys) -> None:
    """No answer text, nothing to score: a clear error and exit status 1."""
    records = answered_records(50, with_text=False)
    with pytest.raises(VerifierTrainingError, match="answer"):
        train_verifier(records, [], seed=1)
    dataset = tmp_path / "no_text.jsonl"
    write_dataset(dataset, records)
    out = tmp_path / "scorer.json"
    assert main(["train", "verifier", "--dataset", str(dataset), "--out", str(out)]) == 1
    assert "needs `answer` fields" in capsys.readouterr().err
    assert not out.exists()


def test_families() -> None:
    """Maths and code have their own family; every other task type is general."""
    assert [family_of(t) for t in ("math", "code_generation", "chat", "reasoning")] == [
        "math",
        "code",
        "general",
        "general",
    ]


def test_answers_of_limits_the_examples(tmp_path: Path, capsys) -> None:
    """--answers-of fits on the named model's answers only; a model with no answers in
    the data is refused."""
    train, heldout = split_records(answered_records(500), seed=4)
    trained = train_verifier(train, heldout, seed=4, answers_of=["weak"])
    everyone = train_verifier(train, heldout, seed=4)
    assert trained.reports["math"]["n_train"] * 2 == everyone.reports["math"]["n_train"]
    assert trained.scorer.models["math"].training["answers_of"] == ["weak"]
    dataset = tmp_path / "answers.jsonl"
    write_dataset(dataset, train)
    out = tmp_path / "scorer.json"
    argv = ["train", "verifier", "--dataset", str(dataset), "--out", str(out)]
    assert main([*argv, "--answers-of", "gpt-9"]) == 1
    assert "no answer from gpt-9" in capsys.readouterr().err


# Same length, no numbers, no hedges or refusals: the hand-made features cannot tell
# them apart; what they are about can.
_ON_TOPIC = [
    "The river carries melted snow from the mountains down to the valley floor.",
    "Glaciers carve the valley walls and leave lakes behind when they retreat.",
    "Rain on the western slopes feeds the forests and the streams below them.",
]
_OFF_TOPIC = [
    "Whisk the eggs with sugar and butter, then fold the flour in gently now.",
    "Knead the dough until smooth, let it rest, and bake it until it is golden.",
    "Simmer the onions in olive oil and garlic before adding the fresh tomato.",
]


def topical_records(n: int, seed: int = 3) -> list[DatasetRecord]:
    """Answers acceptable exactly when they are about the question's subject."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        answers = {
            model: ModelAnswer(
                quality=1.0 if good else 0.0,
                input_tokens=10,
                output_tokens=15,
                answer=rng.choice(_ON_TOPIC if good else _OFF_TOPIC),
            )
            for model, good in (("weak", rng.random() < 0.5), ("strong", rng.random() < 0.9))
        }
        prompt = "How do mountains shape the rivers and valleys around them?"
        records.append(DatasetRecord(f"t{i}", (Message("user", prompt),), "reasoning", answers))
    return records


def test_the_answer_embedding_is_read_where_it_tells_answers_apart(tmp_path: Path) -> None:
    """When only what an answer is about separates the labels, cross-validation chooses
    the embedding; the artefact is format 2 and scores the same after a reload."""
    train, heldout = split_records(topical_records(300), seed=4)
    trained = train_verifier(train, heldout, seed=4)
    report = trained.reports["general"]
    assert report["answer_embedding"] is True
    assert min(report["cv_log_loss_with_embedding"].values()) < min(
        report["cv_log_loss_features_only"].values()
    )
    assert report["heldout"]["auc"] > 0.95
    assert len(trained.scorer.models["general"].embedding_weights) == 128
    out = tmp_path / "scorer.json"
    save_scorer(trained.scorer, out)
    assert json.loads(out.read_text())["format"] == "switchyard.quality_scorer/2"
    loaded = load_scorer(out)
    for text in (*_ON_TOPIC, *_OFF_TOPIC):
        kwargs = {"prompt": "p", "task_type": "chat", "output": text, "finish_reason": "stop"}
        assert loaded.score(**kwargs) == trained.scorer.score(**kwargs)
