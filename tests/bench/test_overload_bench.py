"""bench/overload.py's arithmetic and output: the table per phase and tier, the final
limit (off when the gauge reads 0), and its defaults."""

from __future__ import annotations

from bench.overload import TierRow, parse_args, render
from bench.stats import LatencySummary


def row(phase: str, tier: str, shed: int) -> TierRow:
    return TierRow(
        phase=phase,
        tier=tier,
        sent=10 + shed,
        answered=10,
        shed=shed,
        other={"UNAVAILABLE": 1} if shed else {},
        answered_per_s=2.0,
        latency=LatencySummary.of([100.0, 200.0, 300.0]),
    )


def test_table_has_a_row_per_phase_and_tier_and_the_final_limits() -> None:
    """One markdown row per (phase, tier) with counts and latency; limits after it."""
    text = render(
        [row("limit-off", "free", 0), row("limit-on", "free", 5)],
        {"limit-off": 0.0, "limit-on": 96.0},
    )
    lines = text.splitlines()
    assert lines[2] == "| limit-off | free | 10 | 10 | 0 | 0 | 2.0 | 200 | 300 | 300 |"
    assert lines[3] == "| limit-on | free | 15 | 10 | 5 | UNAVAILABLE 1 | 2.0 | 200 | 300 | 300 |"
    assert "limit-off: final concurrency limit off" in text
    assert "limit-on: final concurrency limit 96" in text


def test_defaults_are_the_documented_run() -> None:
    """docs/bench.md's figures come from these defaults."""
    args = parse_args([])
    assert (args.seconds, args.model_ms, args.enterprise, args.free) == (15.0, 200, 20, 200)
    assert (args.min_limit, args.max_limit) == (16, 128)
