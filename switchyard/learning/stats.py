"""Per-model figures of a dataset: what `switchyard datasets stats` prints.

Per model, over all records it answered and per task type: answers, mean quality, the
acceptable share (quality >= 0.5), cost per request (mean and total, over the answers
whose cost is recorded or derivable from a price table) and latency p50 (nearest rank,
over the answers that record one).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from switchyard.learning.dataset import DatasetRecord, ModelAnswer, dataset_models
from switchyard.learning.prices import TokenPrices

ALL_TASKS = ""


def nearest_rank(sorted_values: Sequence[float], p: float) -> float:
    """The smallest value with at least p % of the values at or below it."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class ModelStats:
    model: str
    # ALL_TASKS for the model's whole row.
    task_type: str
    answers: int
    quality_mean: float
    acceptable_share: float
    # Answers with a known cost (recorded, or from the price table).
    costed: int
    cost_mean_micros: float | None
    cost_total_micros: int | None
    timed: int
    latency_p50_ms: float | None


@dataclass(frozen=True)
class DatasetStats:
    records: int
    models: list[str]
    # Per task type: how many records.
    task_types: dict[str, int]
    rows: list[ModelStats]


def model_stats(
    model: str, task_type: str, answers: Sequence[ModelAnswer], prices: TokenPrices | None
) -> ModelStats:
    costs = [
        a.cost_micros if a.cost_micros is not None else prices.cost_micros(a)
        for a in answers
        if a.cost_micros is not None or prices is not None
    ]
    latencies = sorted(a.latency_ms for a in answers if a.latency_ms is not None)
    n = len(answers)
    return ModelStats(
        model=model,
        task_type=task_type,
        answers=n,
        quality_mean=sum(a.quality for a in answers) / n,
        acceptable_share=sum(a.acceptable for a in answers) / n,
        costed=len(costs),
        cost_mean_micros=sum(costs) / len(costs) if costs else None,
        cost_total_micros=sum(costs) if costs else None,
        timed=len(latencies),
        latency_p50_ms=nearest_rank(latencies, 50) if latencies else None,
    )


def dataset_stats(
    records: Iterable[DatasetRecord], *, prices: Mapping[str, TokenPrices] | None = None
) -> DatasetStats:
    records = list(records)
    models = dataset_models(records)
    task_types: dict[str, int] = {}
    for record in records:
        task_types[record.task_type] = task_types.get(record.task_type, 0) + 1
    prices = prices or {}
    rows = []
    for model in models:
        answered = [r for r in records if model in r.answers]
        groups = [(ALL_TASKS, answered)]
        if len(task_types) > 1:
            groups += [(t, [r for r in answered if r.task_type == t]) for t in sorted(task_types)]
        for task, group in groups:
            if group:
                answers = [r.answers[model] for r in group]
                rows.append(model_stats(model, task, answers, prices.get(model)))
    return DatasetStats(
        records=len(records), models=models, task_types=dict(sorted(task_types.items())), rows=rows
    )
