"""Rows and plain-text tables for the terminal report and the README."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.verdicts import OTHER_LOAD_WARN_PERCENT, reconciled


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table (first column left, the rest right)."""
    cells = [[str(h) for h in headers], *[[cell(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)
        )

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths), *map(line, cells[1:])])


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def _errors(figures: dict[str, Any]) -> str:
    counts = figures.get("counts", {})
    codes = counts.get("error_codes", {})
    if not codes:
        return "0"
    return ", ".join(f"{n} {code}" for code, n in codes.items())


def _other(figures: dict[str, Any]) -> str:
    """Share of the machine busy with work not under test during the measured run."""
    other = figures.get("cpu", {}).get("other_work_percent_of_machine")
    if other is None:
        return "-"
    return f"{other:.0f} %" + (" !" if other >= OTHER_LOAD_WARN_PERCENT else "")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def throughput_rows(scenarios: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for name, s in scenarios.items():
        if s.get("kind") != "throughput":
            continue
        if "throughput_rps" not in s:
            rows.append([name, s.get("skipped") or s.get("error", "?"), *[None] * 9])
            continue
        sample = s.get("sample", {})
        added = sample.get("router_added_ms", {})
        rows.append(
            [
                name,
                s["throughput_rps"],
                s["latency_ms"]["p50"],
                s["latency_ms"]["p99"],
                s["unloaded_latency_ms"]["p50"],
                added.get("p50"),
                added.get("p99"),
                _errors(s),
                None if s.get("target") == "echo" else sample.get("cost_per_1k_usd"),
                "-" if s.get("target") == "echo" else _pct(sample.get("escalation_rate")),
                _other(s),
                "yes" if reconciled(s) else "NO",
            ]
        )
    return rows


THROUGHPUT_HEADERS = (
    "scenario",
    "max req/s",
    "p50 ms",
    "p99 ms",
    "c=1 p50",
    "added p50",
    "added p99",
    "errors",
    "$/1k req",
    "escalated",
    "other load",
    "counts ok",
)


def fixed_rate_rows(figures: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for point in figures.get("points", []):
        floor = point.get("floor", {})
        rows.append(
            [
                f"{point['fraction'] * 100:.0f} % of max",
                point["offered_rps"],
                point["achieved_rps"],
                point["latency_ms"]["p50"],
                point["latency_ms"]["p95"],
                point["latency_ms"]["p99"],
                point["router_added_ms"]["p50"],
                point["router_added_ms"]["p99"],
                point.get("server_handling_ms", {}).get("p99"),
                floor.get("latency_ms", {}).get("p99"),
                point["client_send_lag_p99_ms"],
                _other(point),
                "yes" if reconciled(point) else "NO",
            ]
        )
    return rows


FIXED_RATE_HEADERS = (
    "load",
    "offered/s",
    "achieved/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "added p50",
    "added p99",
    "router-side p99",
    "echo p99",
    "client lag p99",
    "other load",
    "counts ok",
)


def _shares(shares: dict[str, float]) -> str:
    return " ".join(f"{m} {v * 100:.0f}%" for m, v in shares.items()) or "-"


def fault_rows(figures: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for phase, p in figures.get("phases", {}).items():
        failed = sum(a["failed"] for a in p["attempts"].values())
        skipped = sum(a["breaker_skipped"] for a in p["attempts"].values())
        errors = sum(p["typed_errors"].values())
        tried = {m: a["requests_tried"] / p["requests"] for m, a in p["attempts"].items()}
        rows.append(
            [
                phase,
                p["requests"],
                p["answered"],
                errors,
                _shares(p["answered_by"]),
                _shares(tried) if p["requests"] else "-",
                failed,
                skipped,
                p["latency_ms"]["p50"],
                p["latency_ms"]["p99"],
            ]
        )
    return rows


FAULT_HEADERS = (
    "phase",
    "requests",
    "answered",
    "typed errors",
    "answered by",
    "called (share of requests)",
    "failed attempts",
    "breaker skips",
    "p50 ms",
    "p99 ms",
)


def peer_rows(
    peers: dict[str, Any], switchyard: dict[str, Any], fallback: dict[str, Any] | None = None
) -> list[list[Any]]:
    comparison = peers.get("comparison", {}).get("rows", {})
    rows: list[list[Any]] = []
    direct = peers.get("simulator_direct", {})
    if direct.get("throughput_rps"):
        rows.append(
            [
                "simulator (direct)",
                direct["throughput_rps"],
                direct["latency_ms"]["p50"],
                direct["unloaded_latency_ms"]["p50"],
                0.0,
                None,
                None,
                "yes" if reconciled(direct) else "NO",
            ]
        )
    ours = [("switchyard single", switchyard)]
    if fallback:
        ours.append(("switchyard fallback", fallback))
    keys = {"switchyard single": "switchyard", "switchyard fallback": "switchyard-fallback"}
    for name, result in [*ours, *peers.get("gateways", {}).items()]:
        key = keys.get(name, name)
        if "skipped" in result or "throughput_rps" not in result:
            rows.append([name, f"skipped: {result.get('skipped', '?')}", *[None] * 6])
            continue
        row = comparison.get(key, {})
        rows.append(
            [
                name,
                result["throughput_rps"],
                result["latency_ms"]["p50"],
                result["unloaded_latency_ms"]["p50"],
                row.get("added_p50_ms"),
                f"{row['switchyard_throughput_x']}x"
                if row.get("switchyard_throughput_x")
                else None,
                f"{row['switchyard_added_latency_lower_x']}x"
                if row.get("switchyard_added_latency_lower_x")
                else None,
                "yes" if reconciled(result) else "NO",
            ]
        )
    return rows


PEER_HEADERS = (
    "gateway",
    "max req/s",
    "p50 ms",
    "c=1 p50",
    "added p50",
    "Switchyard x thr",
    "Switchyard x lower added",
    "counts ok",
)


def scale_rows(figures: dict[str, Any]) -> list[list[Any]]:
    return [
        [
            n,
            run["throughput_rps"],
            run["latency_ms"]["p50"],
            run["latency_ms"]["p99"],
            "yes" if reconciled(run) else "NO",
        ]
        for n, run in ((figures["routers"], figures["many"]), (1, figures["one"]))
    ]


_MET = {True: "yes", False: "MISSED", None: "not measured"}


def target_rows(targets: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            t["target"],
            t["goal"],
            "-" if t["measured"] is None else f"{t['measured']:g}{t['unit']}",
            _MET[t["met"]],
        ]
        for t in targets
    ]


def md_row(cells: Sequence[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"
