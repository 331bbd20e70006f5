"""Verdicts on a run's result: did every count reconcile, was the machine disturbed by
other work, and were issue 6's targets met."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def _counts_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "reconciled" in node and "runs" in node:
            yield node
        for value in node.values():
            yield from _counts_nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _counts_nodes(value)


def reconciled(node: Any) -> bool:
    """True when every run under this node reconciled (and there was at least one)."""
    nodes = list(_counts_nodes(node))
    return bool(nodes) and all(n["reconciled"] for n in nodes)


def count_problems(node: Any) -> list[str]:
    return [
        f"{label}: {problem}"
        for n in _counts_nodes(node)
        for label, run in n["runs"].items()
        for problem in run["problems"]
    ]


OTHER_LOAD_WARN_PERCENT = 10.0


def disturbed_runs(result: dict[str, Any]) -> list[str]:
    """Measured runs during which other work took a noticeable share of the machine."""
    found = []

    def visit(label: str, node: Any) -> None:
        if isinstance(node, dict):
            other = node.get("cpu", {}).get("other_work_percent_of_machine")
            if other is not None and other >= OTHER_LOAD_WARN_PERCENT:
                found.append(f"{label} ({other:.0f} %)")
            for key, value in node.items():
                if key != "cpu":
                    visit(f"{label}/{key}" if label else key, value)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                visit(f"{label}[{i}]", value)

    visit("", {**result.get("scenarios", {}), "peers": result.get("peers", {})})
    return found


def _get(d: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def check_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 6's targets against this run; a target without its figures is 'not measured'."""
    sc = result.get("scenarios", {})
    single_rps = _get(sc, "single", "throughput_rps")
    floor_rps = _get(sc, "floor", "throughput_rps")
    half = next(
        (p for p in _get(sc, "fixed-rate", "points") or [] if abs(p["fraction"] - 0.5) < 1e-9),
        None,
    )
    rows = _get(result, "peers", "comparison", "rows") or {}

    def vs_base(name: str, base: str) -> tuple[float | None, float | None]:
        """(throughput drop %, router-added p99 excess µs) of a scenario against its base:
        when it ran paired, the interleaved slices' figures (bench/interleaved.py), or
        without them the medians of the paired rounds (bench/paired.py)."""
        paired = _get(sc, name, "paired")
        if paired and paired.get("base") == base and paired.get("interleaved"):
            slices = paired["interleaved"]
            return (
                slices.get("median_throughput_drop_pct"),
                slices.get("router_added_p99_excess_us"),
            )
        if paired and paired.get("base") == base:
            return (
                paired.get("median_throughput_drop_pct"),
                paired.get("median_router_added_p99_excess_us"),
            )
        base_rps = _get(sc, base, "throughput_rps")
        base_p99 = _get(sc, base, "sample", "router_added_ms", "p99")
        rps = _get(sc, name, "throughput_rps")
        p99 = _get(sc, name, "sample", "router_added_ms", "p99")
        drop = (1 - rps / base_rps) * 100 if rps and base_rps else None
        excess = (p99 - base_p99) * 1000 if p99 is not None and base_p99 is not None else None
        return drop, excess

    scale = _get(sc, "scale", "ratio")

    def target(name: str, measured: float | None, goal: float, unit: str, lower: bool = False):
        met = None if measured is None else (measured <= goal if lower else measured >= goal)
        return {
            "target": name,
            "goal": f"{'<=' if lower else '>='} {goal:g}{unit}",
            "measured": None if measured is None else round(measured, 3),
            "unit": unit,
            "met": met,
        }

    return [
        target(
            "single route with verifier vs bare echo throughput",
            single_rps / floor_rps * 100 if single_rps and floor_rps else None,
            35,
            " %",
        ),
        target("single route with verifier, Route()/s on one router", single_rps, 2000, "/s"),
        target(
            "router-added p99 at 50 % of max load (client-measured)",
            half["router_added_ms"]["p99"] if half else None,
            3,
            " ms",
            lower=True,
        ),
        target(
            "router's own handling p99 at 50 % of max load (server histogram)",
            _get(half, "server_handling_ms", "p99") if half else None,
            3,
            " ms",
            lower=True,
        ),
        target(
            "throughput vs LiteLLM proxy",
            _get(rows, "litellm-proxy", "switchyard_throughput_x"),
            15,
            "x",
        ),
        target(
            "lower added median latency vs LiteLLM proxy",
            _get(rows, "litellm-proxy", "switchyard_added_latency_lower_x"),
            5,
            "x",
        ),
        target(
            "throughput vs Portkey gateway",
            _get(rows, "portkey", "switchyard_throughput_x"),
            1.5,
            "x",
        ),
        target("2 routers vs 1 (SO_REUSEPORT)", scale, 1.6, "x"),
        *(
            t
            for name in ("score", "auto")
            for t in (
                target(
                    f"{name} selector throughput below single",
                    vs_base(name, "single")[0],
                    15,
                    " %",
                    lower=True,
                ),
                target(
                    f"{name} selector router-added p99 above single",
                    vs_base(name, "single")[1],
                    300,
                    " µs",
                    lower=True,
                ),
            )
        ),
        target(
            "decision log on: throughput below it off (issue 14)",
            vs_base("single-decisionlog", "single-nolog")[0],
            5,
            " %",
            lower=True,
        ),
    ]
