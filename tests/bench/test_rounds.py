"""`bench.run --rounds N`: each throughput scenario keeps its median-throughput run, with
every round's figures beside it; a failed round fails the scenario."""

from __future__ import annotations

import pytest

from bench.interleaved import interleaved_figures
from bench.paired import paired_figures, paired_sets, round_order
from bench.plan import router_args_of, select
from bench.report import paired_lines
from bench.run import median_run, parse_args, suite_steps
from bench.scenarios import SCENARIOS
from bench.verdicts import check_targets


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


def test_paired_figures_are_per_round_ratios_and_their_median() -> None:
    """Each round's drop and p99 excess against the same round's base; a failed round
    of either is left out of both lists and the medians."""
    base = [_run(1000, 1.0), _run(1200, 2.0), _run(800, 1.0), _run(900, 1.0)]
    variant = [_run(950, 1.2), _run(1080, 2.1), {"error": "x"}, _run(810, 1.5)]
    figures = paired_figures(base, variant)
    assert figures["rounds"] == 3
    assert figures["throughput_drop_pct"] == [5.0, 10.0, 10.0]
    assert figures["median_throughput_drop_pct"] == 10.0
    assert figures["router_added_p99_excess_us"] == [200.0, 100.0, 500.0]
    assert figures["median_router_added_p99_excess_us"] == 200.0


def test_pairs_need_their_base_and_a_variant_and_alternate_their_order() -> None:
    """A pair runs when its base and at least one runnable variant are chosen; the order
    of each round is reversed every other round; --pair-rounds defaults to 3."""
    chosen = select(SCENARIOS, ["single", "score", "single-nolog"])
    sets = paired_sets(chosen, refused={})
    assert [(p.base.name, [v.name for v in p.variants]) for p in sets] == [("single", ["score"])]
    assert paired_sets(chosen, refused={"score": "no"}) == []
    members = sets[0].members
    assert [s.name for s in round_order(members, 0)] == ["single", "score"]
    assert [s.name for s in round_order(members, 1)] == ["score", "single"]
    assert parse_args([]).pair_rounds == 3


def test_targets_use_the_paired_medians() -> None:
    """A variant that ran paired is judged on its median per-round figures, not on the
    two kept runs (here those would say 20 % slower)."""
    paired = {"base": "single-nolog", "median_throughput_drop_pct": 3.0}
    result = {
        "scenarios": {
            "single-nolog": _run(1000, 1.0),
            "single-decisionlog": {**_run(800, 1.0), "paired": paired},
        }
    }
    target = next(t for t in check_targets(result) if t["target"].startswith("decision log"))
    assert target["measured"] == 3.0 and target["met"] is True
    del result["scenarios"]["single-decisionlog"]["paired"]
    target = next(t for t in check_targets(result) if t["target"].startswith("decision log"))
    assert target["measured"] == 20.0 and target["met"] is False


def test_interleaved_figures_are_per_block_drops_and_the_sample_p99_excess() -> None:
    """Each block's drop against the base's slice of the same block, their median, and
    the alternating sample's p99 difference in µs."""
    base = {"throughput_rps": [1000.0, 800.0, 1200.0], "router_added_ms": {"p99": 1.0}}
    variant = {"throughput_rps": [950.0, 720.0, 1188.0], "router_added_ms": {"p99": 1.25}}
    figures = interleaved_figures(base, variant)
    assert figures["throughput_drop_pct"] == [5.0, 10.0, 1.0]
    assert figures["median_throughput_drop_pct"] == 5.0
    assert figures["router_added_p99_excess_us"] == 250.0
    assert figures["router_added_p99_ms"] == {"base": 1.0, "variant": 1.25}
    assert figures["router_added_p99_excess_interval_us"] is None  # not recorded here
    variant["router_added_p99_excess_interval_us"] = [-40.0, 520.0]
    figures = interleaved_figures(base, variant)
    assert figures["router_added_p99_excess_interval_us"] == [-40.0, 520.0]
    [line] = [
        x
        for x in paired_lines(
            {
                "score": {
                    "paired": {
                        "base": "single",
                        "throughput_drop_pct": [],
                        "median_throughput_drop_pct": 0.0,
                        "median_router_added_p99_excess_us": 0.0,
                        "interleaved": figures,
                    }
                }
            }
        )
        if "alternating sample" in x
    ]
    assert line.endswith("250.0 µs (95 % bootstrap interval -40.0 to 520.0)")


def test_targets_prefer_the_interleaved_figures_to_the_rounds() -> None:
    """With interleaved slices the paired targets are judged on them (drop and p99),
    not on the rounds' medians."""
    paired = {
        "base": "single",
        "median_throughput_drop_pct": 30.0,
        "median_router_added_p99_excess_us": 900.0,
        "interleaved": {"median_throughput_drop_pct": 4.0, "router_added_p99_excess_us": 120.0},
    }
    result = {
        "scenarios": {"single": _run(1000, 1.0), "score": {**_run(700, 1.9), "paired": paired}}
    }
    by_name = {t["target"]: t for t in check_targets(result)}
    assert by_name["score selector throughput below single"]["measured"] == 4.0
    assert by_name["score selector router-added p99 above single"]["measured"] == 120.0
    assert by_name["score selector router-added p99 above single"]["met"] is True


def test_the_scale_rows_run_before_the_pairs_and_the_rest() -> None:
    """On the main suite the scale rows go first (they stop the second router), so the
    paired single/score/auto rows and every other row measure one router; the steps are
    the ones `run` executes, in its order."""
    chosen = select(SCENARIOS, [])
    pairs = paired_sets(chosen, {})
    paired = {s.name for p in pairs for s in p.members}
    group = [s for s in chosen if not router_args_of(s) and s.name not in paired]
    on_main = [p for p in pairs if not any(router_args_of(s) for s in p.members)]
    steps = suite_steps(group, on_main)
    assert steps[0] == ([s for s in group if s.name == "scale"], False)
    assert steps[1 : 1 + len(on_main)] == on_main and on_main
    rows, rounds = steps[-1]  # type: ignore[misc]
    assert rounds and [s.name for s in rows] == [s.name for s in group if s.name != "scale"]
    # A suite without scale rows (one with extra router flags) runs its rows alone.
    assert suite_steps(rows, []) == [(rows, True)]


def test_failed_interleaved_slices_leave_the_targets_unmeasured() -> None:
    """When the interleaved measurement fails, the paired targets are 'not measured'
    (the rounds cannot resolve them) and the report says why."""
    paired = {
        "base": "single-nolog",
        "throughput_drop_pct": [3.0],
        "median_throughput_drop_pct": 3.0,
        "median_router_added_p99_excess_us": 10.0,
        "interleaved": {"error": "RuntimeError('h2load died')"},
    }
    sc = {
        "single-nolog": _run(1000, 1.0),
        "single-decisionlog": {**_run(990, 1.0), "paired": paired},
    }
    target = next(t for t in check_targets({"scenarios": sc}) if t["target"].startswith("decision"))
    assert target["measured"] is None and target["met"] is None
    assert any("FAILED" in line and "h2load died" in line for line in paired_lines(sc))
