"""The pure parts of profiling: judging answers, aggregating figures, offline
measurement, and the registry update built from a summary."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from google.protobuf import field_mask_pb2

from services.registry.updates import updated_profile
from switchyard.fleet import parse_fleet
from switchyard.learning.dataset import DatasetRecord, Message, ModelAnswer
from switchyard.learning.profile_write import Provenance, label_value, profile_patch
from switchyard.learning.profiling import (
    AnswerJudge,
    FailureMode,
    Observation,
    QualitySource,
    figures,
    measure_offline,
    recorded_label,
    summarize,
)
from switchyard.policy import parse_policy

LONG = "The answer is 42, because six times seven is forty-two."


def _record(task: str = "math", **answers: ModelAnswer) -> DatasetRecord:
    return DatasetRecord(
        id="r1",
        messages=(Message("user", "What is six times seven?"),),
        task_type=task,
        answers=answers or {"ds": ModelAnswer(quality=0.0, input_tokens=10, output_tokens=5)},
    )


def _obs(**overrides: Any) -> Observation:
    values: dict[str, Any] = {
        "model_id": "m",
        "task_type": "math",
        "record_id": "r",
        "quality": 1.0,
        "source": QualitySource.VERIFIER,
        "cost_micros": 10,
        "latency_ms": 100.0,
        "answered": True,
    }
    values.update(overrides)
    return Observation(**values)


def test_the_recorded_answer_gets_its_label_even_when_the_verifier_would_accept() -> None:
    """Replay serves the recorded text: its label (here 0) decides, not the checks."""
    recorded = ModelAnswer(quality=0.0, input_tokens=10, output_tokens=5, answer=LONG)
    judgement = AnswerJudge().judge(_record(ds=recorded), f"  {LONG}\n", "stop", dataset_model="ds")
    assert (judgement.quality, judgement.source, judgement.failure) == (
        0.0,
        QualitySource.LABEL,
        None,
    )


def test_labels_match_by_text_the_mapped_model_first() -> None:
    """Without a mapping any model's identical recorded answer lends its label; with one,
    the mapped model's answer wins when two models recorded the same text."""
    same = {
        "a": ModelAnswer(quality=0.25, input_tokens=1, output_tokens=1, answer=LONG),
        "b": ModelAnswer(quality=0.75, input_tokens=1, output_tokens=1, answer=LONG),
    }
    record = _record(**same)
    assert recorded_label(record, LONG, None) == 0.25
    assert recorded_label(record, LONG, "b") == 0.75
    assert recorded_label(record, "something else", "b") is None
    judged = AnswerJudge().judge(record, LONG, "stop")
    assert (judged.quality, judged.source) == (0.25, QualitySource.LABEL)


def test_a_different_answer_is_judged_by_the_verifier() -> None:
    """Any other text gets the verdict: accepted 1, refused 0, with its failure mode."""
    recorded = ModelAnswer(quality=0.0, input_tokens=10, output_tokens=5, answer=LONG)
    judge, record = AnswerJudge(), _record(ds=recorded)
    ok = judge.judge(record, "Forty-two: 6 x 7 = 42.", "stop", dataset_model="ds")
    assert (ok.quality, ok.source, ok.failure) == (1.0, QualitySource.VERIFIER, None)
    refusal = judge.judge(record, "I'm sorry, but I can't help with that request.", "stop")
    assert (refusal.quality, refusal.failure) == (0.0, FailureMode.REFUSAL)
    empty = judge.judge(record, "   ", "stop")
    assert (empty.quality, empty.failure) == (0.0, FailureMode.EMPTY)
    cut = judge.judge(record, LONG, "length", dataset_model="ds")  # the text, cut at the limit
    assert (cut.quality, cut.source, cut.failure) == (
        0.0,
        QualitySource.VERIFIER,
        FailureMode.TRUNCATION,
    )


def test_a_policy_supplies_the_checks_of_the_rule_the_record_matches() -> None:
    """With --policy, a math record is judged by the math rule's checks."""
    policy = parse_policy(
        """
name: p
rules:
  - name: math
    when: {task_types: [math]}
    checks: [{name: regex, params: {must_match: ['\\d+\\s*$']}}]
    strategy: {kind: single, model: m}
default: {name: d, strategy: {kind: single, model: m}}
"""
    )
    judge = AnswerJudge(policy=policy)
    assert judge.judge(_record("math"), "It is 42", "stop").quality == 1.0
    assert judge.judge(_record("math"), "It is forty-two", "stop").quality == 0.0
    assert judge.judge(_record("chat"), "It is forty-two", "stop").quality == 1.0


def test_figures_count_failures_and_score_missing_answers_zero() -> None:
    """Quality averages over every request; latency only over answered ones."""
    f = figures(
        [
            _obs(latency_ms=50.0),
            _obs(quality=0.0, failure=FailureMode.REFUSAL, latency_ms=70.0),
            _obs(
                quality=0.0,
                source=QualitySource.NO_ANSWER,
                failure=FailureMode.TIMEOUT,
                latency_ms=None,
                answered=False,
                cost_micros=0,
            ),
            _obs(quality=0.5, source=QualitySource.LABEL, latency_ms=90.0),
        ]
    )
    assert f.requests == 4 and f.answered == 3 and f.labelled == 1
    assert f.quality == pytest.approx(1.5 / 4)
    assert f.mean_cost_micros == 30 / 4
    assert f.latencies_ms == (50.0, 70.0, 90.0) and f.latency_ms(50) == 70.0
    assert f.failures == {FailureMode.TIMEOUT: 1, FailureMode.REFUSAL: 1}
    assert f.failure_rate(FailureMode.TIMEOUT) == 0.25


def test_summaries_split_by_task_and_keep_the_model_order() -> None:
    observations = [
        _obs(model_id="b", task_type="chat"),
        _obs(model_id="a", task_type="math", quality=0.0),
        _obs(model_id="a", task_type="chat"),
    ]
    a, b = summarize(observations, ["a", "b"], {"a": "ds-a", "b": None})
    assert (a.model_id, a.dataset_model, list(a.by_task)) == ("a", "ds-a", ["chat", "math"])
    assert a.overall.quality == 0.5 and a.by_task["math"].quality == 0.0
    assert b.dataset_model is None and b.measured


def test_offline_uses_recorded_fields_and_prices_missing_costs() -> None:
    """Offline: the label is the quality, a missing cost comes from the prices, a
    record the model did not answer is no sample, and a recorded refusal is counted."""
    records = [
        _record(ds=ModelAnswer(quality=1.0, input_tokens=1000, output_tokens=500, latency_ms=80)),
        _record(ds=ModelAnswer(quality=0.4, input_tokens=10, output_tokens=5, cost_micros=7)),
        _record(
            ds=ModelAnswer(
                quality=0.0,
                input_tokens=10,
                output_tokens=9,
                answer="I'm sorry, but I can't help with that request.",
            )
        ),
        _record(other=ModelAnswer(quality=1.0, input_tokens=1, output_tokens=1)),
    ]
    observations = measure_offline(
        records,
        model_id="m",
        dataset_model="ds",
        input_micros_per_mtok=1_000_000,
        output_micros_per_mtok=2_000_000,
        judge=AnswerJudge(),
    )
    assert [o.cost_micros for o in observations] == [2000, 7, 28]
    assert [o.quality for o in observations] == [1.0, 0.4, 0.0]
    assert all(o.source is QualitySource.LABEL for o in observations)
    assert [o.latency_ms for o in observations] == [80, None, None]
    assert [o.failure for o in observations] == [None, None, FailureMode.REFUSAL]


FLEET = """
- id: small
  provider: {kind: simulator, endpoint: "http://127.0.0.1:8090/v1"}
  pricing: {input_per_mtok_micros: 1, output_per_mtok_micros: 1}
  context_window: 4096
  max_output_tokens: 1024
  quality: {chat: 0.5, summarization: {score: 0.7, dataset: old, measured: 2024-01-01}}
  latency: {ttft_p50_ms: 5, total_p50_ms: 9, total_p95_ms: 10, total_p99_ms: 11}
  labels: {tier: small, profile-dataset: old, profile-samples.chat: "3"}
"""


def _current() -> Any:
    (model,) = parse_fleet(FLEET, environ={})
    model.etag = "etag-1"
    return model


def test_profile_patch_merges_into_the_current_profile() -> None:
    """Measured tasks are replaced with score, dataset and time; other tasks and labels
    stay; provenance labels describe this run; latency is whole ms rounded up; and the
    registry's own update logic accepts the result."""
    summary = summarize(
        [
            _obs(task_type="chat", quality=1.0, latency_ms=29.2),
            _obs(task_type="chat", quality=0.0, latency_ms=20.0),
            _obs(task_type="math", quality=1.0, latency_ms=400.9),
        ],
        ["m"],
        {"m": "ds"},
    )[0]
    when = dt.datetime(2025, 3, 4, 5, 6, tzinfo=dt.UTC)
    update = profile_patch(_current(), summary, Provenance("team logs (v2)", when, "live"))
    assert update.model.etag == "etag-1"
    assert update.paths == (
        "quality",
        "labels",
        "latency.total_p50_ms",
        "latency.total_p95_ms",
        "latency.total_p99_ms",
    )
    merged = updated_profile(
        _current(), update.model, field_mask_pb2.FieldMask(paths=list(update.paths))
    )
    assert (
        merged.quality["chat"].score == 0.5 and merged.quality["chat"].dataset == "team-logs--v2-"
    )
    assert merged.quality["math"].measure_time.ToDatetime(tzinfo=dt.UTC) == when
    assert merged.quality["summarization"].dataset == "old"
    assert dict(merged.labels) == {
        "tier": "small",
        "profile-dataset": "team-logs--v2-",
        "profile-date": "2025-03-04",
        "profile-mode": "live",
        "profile-samples": "3",
        "profile-samples.chat": "2",
        "profile-samples.math": "1",
    }
    assert (merged.latency.total_p50_ms, merged.latency.total_p99_ms) == (30, 401)
    assert merged.latency.ttft_p50_ms == 5  # not measured by a non-streaming call


def test_profile_patch_leaves_latency_alone_when_none_was_measured() -> None:
    """Offline data without recorded latency writes quality and labels only."""
    summary = summarize([_obs(latency_ms=None)], ["m"], {"m": "ds"})[0]
    update = profile_patch(_current(), summary, Provenance("d", dt.datetime.now(dt.UTC), "offline"))
    assert update.paths == ("quality", "labels")


def test_label_values_fit_the_registry_rules() -> None:
    assert label_value("gsm8k") == "gsm8k"
    assert label_value("a b=c") == "a-b-c"
    assert len(label_value("x" * 100)) == 63
