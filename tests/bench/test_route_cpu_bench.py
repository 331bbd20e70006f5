"""`python -m bench.route_cpu_bench`: whole Route() calls in-process (router, simulator,
decision log) for the bench's scenarios, CPU per call and each one's excess."""

from __future__ import annotations

from bench.route_cpu_bench import main, measure


async def test_each_scenario_routes_and_costs_some_cpu() -> None:
    """single, score and auto answer through the bench's policy (a refused rule or a
    failed call raises); each figure is a positive number of microseconds."""
    figures = await measure(["single", "score", "auto"], calls=4, repeats=1)
    assert set(figures) == {"single", "score", "auto"}
    assert all(0 < f < 1e6 for f in figures.values())


def test_the_report_names_the_excess_over_the_first(capsys) -> None:
    assert main(["--only", "single,auto", "--calls", "4", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("µs over single") == 1 and "auto" in out
