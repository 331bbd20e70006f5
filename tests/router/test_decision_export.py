"""Which decisions become labelled-dataset records, and the per-route figures (pure)."""

from __future__ import annotations

import dataclasses
from typing import Any

from services.router.decision_log.export import (
    SKIP_NO_LABEL,
    SKIP_NO_MODEL,
    SKIP_NO_TEXT,
    SKIP_REPEAT,
    SKIP_SHADOW,
    dataset_record,
    dataset_records,
    route_stats,
)
from services.router.decision_log.query import Label, LoggedDecision
from services.router.decision_log.record import Decision, DecisionOutcome

USER = [{"role": "user", "content": "Explain indexes."}]


def attempt(model: str, outcome: str = "ok", verdict: str = "accept") -> dict[str, Any]:
    return {
        "model_id": model, "stage": 0, "retry": 0, "outcome": outcome, "verdict": verdict,
        "score": 1.0, "input_tokens": 10, "output_tokens": 20, "cost_micros": 7,
        "latency_ms": 12.5, "detail": "", "breaker_state": "closed",
    }  # fmt: skip


def logged(*, label: float | None = 0.5, rid: str = "r1", **fields: Any) -> LoggedDecision:
    base = Decision(
        request_id=rid, time_unix=1.0, tenant="acme", tier="", task_type="chat",
        rule="default", selector="static", strategy="cascade", policy_version=3,
        canary=False, shadow=False, shadow_of="", outcome=DecisionOutcome.ANSWERED,
        code="OK", error="", model_id="small", attempts=1, escalations=0,
        expected_cost_micros=10, expected_latency_ms=20, cost_micros=7, latency_ms=30.0,
        slo_ms=100, slo_met=True, cache_hit=False, input_tokens=10, output_tokens=20,
        detail={"messages": USER, "attempts": [attempt("small")]}, models=("small",),
    )  # fmt: skip
    labels = () if label is None else (Label("human", label, 5.0),)
    return LoggedDecision(dataclasses.replace(base, **fields), labels)


def test_a_labelled_answer_with_text_is_a_record_for_the_answering_model() -> None:
    record = dataset_record(logged(label=0.75))
    assert not isinstance(record, str)
    assert record.id == "r1" and record.prompt == "Explain indexes."
    answer = record.answers["small"]
    assert (answer.quality, answer.cost_micros, answer.latency_ms) == (0.75, 7, 12.5)
    assert record.metadata["policy_version"] == "3" and record.metadata["feedback.human"] == "0.75"


def test_a_degraded_answer_a_model_gave_is_still_its_answer() -> None:
    held = logged(
        outcome=DecisionOutcome.DEGRADED,
        detail={"messages": USER, "attempts": [attempt("small", verdict="reject")]},
    )
    assert not isinstance(dataset_record(held), str)


def test_what_cannot_be_training_data_says_why() -> None:
    static = logged(model_id="", outcome=DecisionOutcome.DEGRADED)
    cached = logged(cache_hit=True, detail={"messages": USER, "attempts": []})
    failed = logged(
        model_id="",
        outcome=DecisionOutcome.FAILED,
        detail={"messages": USER, "attempts": [attempt("small", outcome="server_error")]},
    )
    assert dataset_record(static) == SKIP_NO_MODEL
    assert dataset_record(cached) == SKIP_NO_MODEL
    assert dataset_record(failed) == SKIP_NO_MODEL
    assert dataset_record(logged(label=None)) == SKIP_NO_LABEL
    assert dataset_record(logged(detail={"attempts": [attempt("small")]})) == SKIP_NO_TEXT
    assert dataset_record(logged(shadow=True, shadow_of="r0")) == SKIP_SHADOW


def test_a_repeated_request_id_keeps_the_newest_decision_only() -> None:
    newest, older = logged(label=1.0), logged(label=0.0)
    report = dataset_records([newest, older])
    assert [r.answers["small"].quality for r in report.records] == [1.0]
    assert report.skipped == {SKIP_REPEAT: 1}


def test_route_stats_compare_expectation_with_what_happened() -> None:
    """Per rule: means, nearest-rank p95, escalation and SLO shares, labels."""
    many = [
        logged(rid=f"r{i}", latency_ms=float(i), escalations=1 if i % 4 == 0 else 0)
        for i in range(1, 21)
    ]
    failed = logged(
        rid="f", outcome=DecisionOutcome.FAILED, slo_met=False, label=None, cost_micros=0
    )
    [stats] = route_stats([*many, failed])
    assert (stats.decisions, stats.answered, stats.failed) == (21, 20, 1)
    assert stats.p95_latency_ms == 20.0 and stats.escalation_rate == 5 / 21
    assert stats.slo_met_rate == 20 / 21 and stats.labelled == 20
    assert stats.expected_cost_micros == 10 and stats.cost_micros == 7 * 20 / 21
    # Every decision called "small"; a model a decision tried twice counts once.
    assert stats.called == {"small": 1.0}


def test_route_stats_share_of_requests_calling_each_model() -> None:
    """What a score rule calibrated for a share of strong-model calls actually sends:
    per model, the share of the rule's decisions that called it (escalations count
    both models, a retry of one model counts once), largest first."""
    weak = [logged(rid=f"w{i}", models=("small",)) for i in range(6)]
    strong = [logged(rid=f"s{i}", models=("large",)) for i in range(3)]
    escalated = logged(rid="e", models=("small", "small", "large"))
    [stats] = route_stats([*weak, *strong, escalated])
    assert stats.called == {"small": 0.7, "large": 0.4}
    assert list(stats.called) == ["small", "large"]
