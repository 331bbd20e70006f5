"""Decisions out of the log: labelled-dataset records (docs/datasets.md), CSV rows, and
per-route figures (expected against actual cost and latency, escalations, p95).

A decision becomes a dataset record when it has a label (RecordFeedback), its prompt
text was captured (`decision_log_capture_text`) and a model answered it (not a static
or review-ticket answer, not a cache hit: no call, no figures). The label goes to the
model that answered, with that model's last call's tokens, cost and latency.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.router.decision_log.query import LoggedDecision
from services.router.decision_log.record import Decision, DecisionOutcome
from switchyard.learning.dataset import ROLES, DatasetRecord, Message, ModelAnswer
from switchyard.tasks import TASK_TYPES

SKIP_NO_LABEL = "no feedback label"
SKIP_NO_TEXT = "no prompt text (capture was off)"
SKIP_NO_MODEL = "no model answered (failed, static, review or cache hit)"
SKIP_SHADOW = "shadow decision"
SKIP_REPEAT = "request id seen in a newer decision"


@dataclass
class ExportReport:
    records: list[DatasetRecord]
    skipped: Counter[str]


def dataset_record(logged: LoggedDecision) -> DatasetRecord | str:
    """The record for one decision, or why it cannot be one."""
    d, label = logged.decision, logged.label
    if d.shadow:
        return SKIP_SHADOW
    if label is None:
        return SKIP_NO_LABEL
    messages = tuple(
        Message(m["role"], m["content"])
        for m in d.detail.get("messages", ())
        if m["role"] in ROLES and m["content"].strip()
    )
    if not any(m.role == "user" for m in messages):
        return SKIP_NO_TEXT
    # The answering model's calls: none for a failure, a static or review answer, or a
    # cache hit. A degraded answer a model gave (rejected, held) is still its answer.
    called = [
        a
        for a in d.detail.get("attempts", ())
        if a["model_id"] == d.model_id and a["outcome"] == "ok" and not d.cache_hit
    ]
    if not called:
        return SKIP_NO_MODEL
    last = called[-1]
    metadata = {
        "source": "decision-log",
        "rule": d.rule,
        "policy_version": str(d.policy_version),
        "label_source": label.source,
        **{f"feedback.{lb.source}": f"{lb.label:g}" for lb in logged.labels},
    }
    answer = d.detail.get("answer")
    return DatasetRecord(
        id=d.request_id,
        messages=messages,
        task_type=d.task_type if d.task_type in TASK_TYPES else "chat",
        tenant=d.tenant,
        tier=d.tier,
        metadata=metadata,
        answers={
            d.model_id: ModelAnswer(
                quality=label.label,
                input_tokens=last["input_tokens"],
                output_tokens=last["output_tokens"],
                answer=answer if isinstance(answer, str) and answer else None,
                cost_micros=last["cost_micros"],
                latency_ms=float(last["latency_ms"]),
            )
        },
    )


def dataset_records(decisions: Iterable[LoggedDecision]) -> ExportReport:
    """Records for the decisions that can be training data (newest first in, one per
    request id: the newest)."""
    records: list[DatasetRecord] = []
    skipped: Counter[str] = Counter()
    seen: set[str] = set()
    for logged in decisions:
        made = dataset_record(logged)
        if isinstance(made, str):
            skipped[made] += 1
        elif made.id in seen:
            skipped[SKIP_REPEAT] += 1
        else:
            seen.add(made.id)
            records.append(made)
    return ExportReport(records, skipped)


CSV_COLUMNS = (
    "request_id",
    "time",
    "tenant",
    "tier",
    "task_type",
    "rule",
    "selector",
    "strategy",
    "policy_version",
    "canary",
    "outcome",
    "code",
    "model_id",
    "models",
    "attempts",
    "escalations",
    "expected_cost_micros",
    "cost_micros",
    "expected_latency_ms",
    "latency_ms",
    "slo_ms",
    "slo_met",
    "cache_hit",
    "input_tokens",
    "output_tokens",
    "label",
    "label_source",
    "error",
)


def csv_row(logged: LoggedDecision, *, time_text: str) -> dict[str, Any]:
    d, label = logged.decision, logged.label
    return {
        "request_id": d.request_id,
        "time": time_text,
        "tenant": d.tenant,
        "tier": d.tier,
        "task_type": d.task_type,
        "rule": d.rule,
        "selector": d.selector,
        "strategy": d.strategy,
        "policy_version": d.policy_version,
        "canary": int(d.canary),
        "outcome": d.outcome.value,
        "code": d.code,
        "model_id": d.model_id,
        "models": " ".join(d.models),
        "attempts": d.attempts,
        "escalations": d.escalations,
        "expected_cost_micros": "" if d.expected_cost_micros is None else d.expected_cost_micros,
        "cost_micros": d.cost_micros,
        "expected_latency_ms": "" if d.expected_latency_ms is None else d.expected_latency_ms,
        "latency_ms": d.latency_ms,
        "slo_ms": d.slo_ms,
        "slo_met": "" if d.slo_met is None else int(d.slo_met),
        "cache_hit": int(d.cache_hit),
        "input_tokens": d.input_tokens,
        "output_tokens": d.output_tokens,
        "label": "" if label is None else label.label,
        "label_source": "" if label is None else label.source,
        "error": d.error,
    }


@dataclass(frozen=True)
class RouteStats:
    """One rule's decisions: what the plans expected against what happened."""

    rule: str
    decisions: int
    answered: int
    degraded: int
    failed: int
    # Means over the decisions that were planned (an expectation exists).
    expected_cost_micros: float | None
    cost_micros: float
    expected_latency_ms: float | None
    latency_ms: float
    p95_latency_ms: float
    # Share of decisions that called a stage after the first.
    escalation_rate: float
    # Share of decisions with a latency target that met it (None: none had one).
    slo_met_rate: float | None
    labelled: int
    mean_label: float | None
    # Share of the rule's decisions that called (or tried) each model, largest first:
    # a score rule's share of strong-model calls, against what it was calibrated for.
    called: Mapping[str, float] = field(default_factory=dict)


def nearest_rank(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def route_stats(decisions: Iterable[LoggedDecision]) -> list[RouteStats]:
    by_rule: dict[str, list[LoggedDecision]] = {}
    for logged in decisions:
        by_rule.setdefault(logged.decision.rule or "(none)", []).append(logged)
    out = []
    for rule, group in sorted(by_rule.items()):
        ds = [g.decision for g in group]
        outcomes = Counter(d.outcome for d in ds)
        slo = [d.slo_met for d in ds if d.slo_met is not None]
        labels = [g.label.label for g in group if g.label is not None]
        latencies = [d.latency_ms for d in ds]
        out.append(
            RouteStats(
                rule=rule,
                decisions=len(ds),
                answered=outcomes[DecisionOutcome.ANSWERED],
                degraded=outcomes[DecisionOutcome.DEGRADED],
                failed=outcomes[DecisionOutcome.FAILED],
                expected_cost_micros=_mean(
                    [d.expected_cost_micros for d in ds if d.expected_cost_micros is not None]
                ),
                cost_micros=sum(d.cost_micros for d in ds) / len(ds),
                expected_latency_ms=_mean(
                    [d.expected_latency_ms for d in ds if d.expected_latency_ms is not None]
                ),
                latency_ms=sum(latencies) / len(ds),
                p95_latency_ms=nearest_rank(latencies, 0.95),
                escalation_rate=sum(1 for d in ds if d.escalations > 0) / len(ds),
                slo_met_rate=_mean([1.0 if met else 0.0 for met in slo]),
                labelled=len(labels),
                mean_label=_mean(labels),
                called=_called(ds),
            )
        )
    return out


def _called(decisions: Sequence[Decision]) -> dict[str, float]:
    counts = Counter(model for d in decisions for model in set(d.models))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {model: n / len(decisions) for model, n in ranked}
