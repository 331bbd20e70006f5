"""`bench.run --rounds N`: each throughput scenario keeps its median-throughput run, with
every round's figures beside it; a failed round fails the scenario."""

from __future__ import annotations

import pytest

from bench.run import median_run, parse_args


def _run(rps: float, p99: float, *, reconciled: bool = True) -> dict:
    return {
        "throughput_rps": rps,
        "cpu": {"percent_of_one_core": {"router": rps / 10}},
        "sample": {"router_added_ms": {"p99": p99}},
        "counts": {"reconciled": reconciled},
    }


def test_the_median_round_is_kept_with_every_rounds_figures() -> None:
    """Three rounds: the middle throughput's run, its own p99, and all three listed in
    the order they ran."""
    kept = median_run([_run(900, 1.0), _run(1500, 3.0), _run(1200, 2.0)])
    assert kept["throughput_rps"] == 1200 and kept["sample"]["router_added_ms"]["p99"] == 2.0
    assert kept["rounds"]["throughput_rps"] == [900, 1500, 1200]
    assert kept["rounds"]["router_added_p99_ms"] == [1.0, 3.0, 2.0]
    # rps/10 % of a core at rps requests/s: 1,000 µs of router CPU per request.
    assert kept["rounds"]["router_cpu_us_per_request"] == [1000.0] * 3
    assert kept["rounds"]["reconciled"] is True


def test_an_even_count_keeps_the_lower_middle_and_one_unreconciled_round_shows() -> None:
    """Two rounds: the slower one (never flattering); a round whose counts did not
    reconcile makes the rounds' `reconciled` false."""
    kept = median_run([_run(1500, 3.0), _run(1000, 1.0, reconciled=False)])
    assert kept["throughput_rps"] == 1000
    assert kept["rounds"]["reconciled"] is False


def test_a_failed_round_is_the_result() -> None:
    """A round that raised has no throughput: the scenario is reported failed."""
    failure = {"kind": "throughput", "error": "RuntimeError('router died')"}
    assert median_run([_run(1000, 1.0), failure]) is failure


def test_rounds_default_to_one() -> None:
    """Without --rounds a run is what it was: each scenario once; 0 is refused."""
    assert parse_args([]).rounds == 1
    assert parse_args(["--rounds", "3"]).rounds == 3
    with pytest.raises(SystemExit):
        parse_args(["--rounds", "0"])
