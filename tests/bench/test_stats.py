"""Percentiles, histogram quantiles and request-count reconciliation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.stats import (
    LatencySummary,
    Reconciliation,
    combine,
    count_delta,
    histogram_bound,
    histogram_quantile,
    p99_excess_interval_us,
    percentile,
)


def test_nearest_rank_percentiles() -> None:
    """p50 of 1..10 is 5, p95 and p99 are 10: always a value some request really had."""
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == 5.0
    assert percentile(values, 95) == 10.0
    assert percentile(values, 99) == 10.0
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 10.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_or_out_of_range_raises() -> None:
    """No samples, or p outside [0, 100], is a caller error."""
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=200),
    st.floats(0, 100),
    st.floats(0, 100),
)
def test_percentile_is_a_sample_and_monotone(values: list[float], p: float, q: float) -> None:
    """A percentile is one of the samples, and a higher p never gives a lower value."""
    ordered = sorted(values)
    assert percentile(ordered, p) in ordered
    low, high = sorted((p, q))
    assert percentile(ordered, low) <= percentile(ordered, high)


def test_latency_summary_and_shift() -> None:
    """The summary holds count, mean and percentiles; minus() shifts them, never below 0."""
    summary = LatencySummary.of([4.0, 1.0, 3.0, 2.0])
    assert (summary.count, summary.mean_ms, summary.p50_ms, summary.max_ms) == (4, 2.5, 2.0, 4.0)
    shifted = summary.minus(3.0)
    assert (shifted.p50_ms, shifted.max_ms, shifted.count) == (0.0, 1.0, 4)
    assert LatencySummary.of([]).count == 0


def test_count_delta_keeps_what_grew() -> None:
    """Counter growth per key; new keys count from zero; unchanged keys drop out."""
    before = {"OK": 10.0, "UNAVAILABLE": 2.0}
    after = {"OK": 15.0, "UNAVAILABLE": 2.0, "DEADLINE_EXCEEDED": 1.0}
    assert count_delta(before, after) == {"OK": 5, "DEADLINE_EXCEEDED": 1}


def test_counts_that_add_up_reconcile() -> None:
    """Sent = answered + typed errors, all completed at the client: reconciled."""
    r = Reconciliation(sent=10, client_completed=10, codes={"OK": 8, "UNAVAILABLE": 2})
    assert r.ok and r.answered == 8 and r.typed_errors == 2
    assert r.error_codes == {"UNAVAILABLE": 2}
    assert r.as_dict()["reconciled"] is True


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"sent": 10, "client_completed": 10, "codes": {"OK": 9}}, "account for 9"),
        ({"sent": 10, "client_completed": 8, "codes": {"OK": 10}}, "never completed"),
        (
            {
                "sent": 2,
                "client_completed": 2,
                "codes": {"OK": 2},
                "client_codes": {"OK": 1, "X": 1},
            },
            "client saw",
        ),
    ],
)
def test_lost_or_miscounted_requests_are_problems(kwargs: dict, fragment: str) -> None:
    """A request the server did not count, one the client never saw finish, or codes the
    client and server disagree on, each make the run not reconcile, with a reason."""
    r = Reconciliation(**kwargs)
    assert not r.ok
    assert any(fragment in p for p in r.problems)


def test_combine_keeps_each_parts_problem() -> None:
    """One run's surplus cannot hide another run's loss when runs are combined."""
    short = Reconciliation(sent=10, client_completed=10, codes={"OK": 9})
    surplus = Reconciliation(sent=10, client_completed=10, codes={"OK": 11})
    both = combine([short, surplus])
    assert both.sent == 20 and both.answered == 20
    assert not both.ok
    assert len(both.problems) == 2


def test_histogram_quantile_interpolates_inside_the_bucket() -> None:
    """Like Prometheus: linear inside the bucket holding the rank."""
    buckets = {0.001: 50.0, 0.002: 90.0, 0.005: 100.0, math.inf: 100.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.001)
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.0015)
    assert histogram_quantile(0.99, buckets) == pytest.approx(0.0047)


def test_histogram_quantile_edges() -> None:
    """Empty histograms have no quantile; one past the last finite bound reports that bound."""
    assert histogram_quantile(0.5, {}) is None
    assert histogram_quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None
    assert histogram_quantile(0.99, {0.1: 1.0, math.inf: 10.0}) == 0.1
    with pytest.raises(ValueError):
        histogram_quantile(1.5, {0.1: 1.0})


def test_histogram_bound_is_the_bucket_holding_the_rank() -> None:
    """An upper bound: the first bound with at least q of the calls at or under it."""
    buckets = {0.0005: 98.0, 0.00075: 99.0, 0.001: 99.5, math.inf: 100.0}
    assert histogram_bound(0.5, buckets) == 0.0005
    assert histogram_bound(0.99, buckets) == 0.00075
    assert histogram_bound(0.995, buckets) == 0.001
    assert histogram_bound(0.999, buckets) == math.inf
    assert histogram_bound(0.5, {}) is None


def test_h2load_picks_cost_the_workload_mean() -> None:
    """One answer per equal-count cost band, nearest the band mean: on a smooth long
    tail (like real answer costs) the mix costs what the workload does."""
    from bench.verifier_bench import h2load_picks

    costs = [50.0 * math.exp(3 * (i / 1000) ** 3) for i in range(1000)]
    picks = h2load_picks(costs, count=8)
    assert len(set(picks)) == 8
    mean_all = sum(costs) / len(costs)
    mean_picks = sum(costs[i] for i in picks) / len(picks)
    assert abs(mean_picks - mean_all) / mean_all < 0.03


def _latencies(seed: int, n: int, shift_ms: float = 0.0) -> list[float]:
    import random

    rng = random.Random(seed)
    return [rng.lognormvariate(0.0, 0.5) + shift_ms for _ in range(n)]


def test_the_p99_excess_interval_holds_zero_for_one_distribution_and_not_for_a_shift() -> None:
    """Two samples of one distribution: the interval holds 0. The variant 1 ms slower
    everywhere: it holds +1,000 µs and not 0. Seeded: the same samples, the same interval."""
    base, same = _latencies(1, 2000), _latencies(2, 2000)
    low, high = p99_excess_interval_us(base, same)
    assert low < 0 < high
    assert p99_excess_interval_us(base, same) == (low, high)
    low, high = p99_excess_interval_us(base, [v + 1.0 for v in base])
    assert 0 < low <= 1000.0 <= high


def test_the_p99_excess_interval_narrows_with_more_samples() -> None:
    small = p99_excess_interval_us(_latencies(3, 500), _latencies(4, 500))
    large = p99_excess_interval_us(_latencies(3, 8000), _latencies(4, 8000))
    assert large[1] - large[0] < small[1] - small[0]


def test_the_p99_excess_interval_needs_samples_on_both_sides() -> None:
    with pytest.raises(ValueError, match="both sides"):
        p99_excess_interval_us([], [1.0])
