"""`python -m bench.plan_bench`: plans the bench's own scenarios in-process and prints
CPU per planned request with each selector's excess over single."""

from __future__ import annotations

from bench.plan_bench import main, time_plans


def test_each_scenario_plans_and_costs_some_cpu() -> None:
    """The bench's single, score and auto requests plan without error; a figure is a
    positive number of microseconds."""
    for name in ("single", "score", "auto"):
        assert 0 < time_plans(name, calls=20, repeats=2) < 1e6


def test_the_report_names_the_excess_over_single(capsys) -> None:
    """The printout has a row per scenario and the selector rows say what they add."""
    assert main(["--calls", "10", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "single" in out and "µs over single" in out and out.count("µs over single") == 2
