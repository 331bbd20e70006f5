"""Per-model dataset figures, checked against numbers worked out by hand."""

from __future__ import annotations

import pytest

from switchyard.learning.dataset import DatasetRecord, Message, ModelAnswer
from switchyard.learning.prices import TokenPrices, usd_to_micros
from switchyard.learning.stats import ALL_TASKS, dataset_stats, nearest_rank


def record(record_id: str, task: str, **answers: ModelAnswer) -> DatasetRecord:
    return DatasetRecord(
        id=record_id, messages=(Message("user", record_id),), task_type=task, answers=answers
    )


def answer(quality: float, cost: int | None = None, latency: float | None = None, *,
           tokens: tuple[int, int] = (0, 0)) -> ModelAnswer:  # fmt: skip
    return ModelAnswer(
        quality=quality,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost_micros=cost,
        latency_ms=latency,
    )


RECORDS = [
    record("r1", "chat", a=answer(1.0, 100, 200), b=answer(0.4, None, 50, tokens=(1000, 500))),
    record("r2", "chat", a=answer(0.5, 300, 100)),
    record("r3", "math", a=answer(0.0, None, None, tokens=(10, 10)), b=answer(0.9, 50)),
]


def rows(**kw):
    stats = dataset_stats(RECORDS, **kw)
    return {(r.model, r.task_type): r for r in stats.rows}, stats


def test_per_model_and_per_task_figures() -> None:
    """a: quality (1 + 0.5 + 0) / 3, 2 of 3 acceptable (0.5 counts), costs 100 and 300
    known, latencies 100 and 200 -> nearest-rank p50 100; b over its two answers."""
    by, stats = rows()
    assert (stats.records, stats.models, stats.task_types) == (
        3,
        ["a", "b"],
        {"chat": 2, "math": 1},
    )
    a = by[("a", ALL_TASKS)]
    assert (a.answers, a.quality_mean, a.acceptable_share) == (3, pytest.approx(0.5), 2 / 3)
    assert (a.costed, a.cost_mean_micros, a.cost_total_micros) == (2, 200.0, 400)
    assert (a.timed, a.latency_p50_ms) == (2, 100.0)
    chat = by[("a", "chat")]
    assert (chat.answers, chat.quality_mean, chat.acceptable_share) == (2, 0.75, 1.0)
    maths = by[("a", "math")]
    assert (maths.cost_mean_micros, maths.latency_p50_ms) == (None, None)
    b = by[("b", ALL_TASKS)]
    assert (b.answers, b.quality_mean, b.acceptable_share) == (2, pytest.approx(0.65), 0.5)
    assert (b.costed, b.cost_total_micros, b.latency_p50_ms) == (1, 50, 50.0)


def test_prices_fill_in_missing_costs() -> None:
    """With prices, a's r3 costs 10 x 1 + 10 x 2 = 30 µUSD and b's r1 costs
    1000 x 0.15 + 500 x 0.6 = 450 µUSD; recorded costs are kept."""
    prices = {"a": TokenPrices(1_000_000, 2_000_000), "b": TokenPrices(150_000, 600_000)}
    by, _ = rows(prices=prices)
    a, b = by[("a", ALL_TASKS)], by[("b", ALL_TASKS)]
    assert (a.costed, a.cost_total_micros, a.cost_mean_micros) == (3, 430, pytest.approx(430 / 3))
    assert (b.costed, b.cost_total_micros, b.cost_mean_micros) == (2, 500, 250.0)


def test_one_task_type_has_no_per_task_rows() -> None:
    """Per-task rows would repeat the model's row when there is one task type."""
    stats = dataset_stats(RECORDS[:2])
    assert [(r.model, r.task_type) for r in stats.rows] == [("a", ALL_TASKS), ("b", ALL_TASKS)]


def test_nearest_rank_and_usd_rounding() -> None:
    """p50 of 1..4 is 2 and p95 is 4 (nearest rank); USD costs round up to whole µUSD,
    without float noise adding one."""
    assert nearest_rank([1, 2, 3, 4], 50) == 2 and nearest_rank([1, 2, 3, 4], 95) == 4
    assert usd_to_micros(0.00023725) == 238
    assert usd_to_micros(0.000237) == 237 and usd_to_micros(0.0021) == 2100
