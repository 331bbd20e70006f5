"""What a run prints and keeps: the terminal report, the JSON file, the README table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.machine import one_line
from bench.tables import (
    FAULT_HEADERS,
    FIXED_RATE_HEADERS,
    PEER_HEADERS,
    THROUGHPUT_HEADERS,
    cell,
    fault_rows,
    fixed_rate_rows,
    md_row,
    peer_rows,
    scale_rows,
    table,
    target_rows,
    throughput_rows,
)
from bench.verdicts import OTHER_LOAD_WARN_PERCENT, disturbed_runs

RESULTS_DIR = Path(__file__).resolve().parent / "results"


THROUGHPUT_TITLE = (
    "Throughput: h2load saturating (p50/p99 at max); c=1 p50 = one request at a time;"
    " added = total minus the attempts' own time (traced sample, c=1)"
)
FIXED_RATE_NOTE = (
    "Python client at fixed rates, latency from the intended send time (no coordinated"
    " omission); added = total minus the attempts' own time; router-side = the router's"
    " own handling-time histogram (no client delays; includes the model call); echo p99 ="
    " the bare echo at the same rate, i.e. what the client and machine add by themselves"
)
PEER_TITLE = (
    "Peers: h2load, HTTP/1.1 gateways get as many connections as gRPC has streams in flight;"
    " added = c=1 p50 minus the simulator's own c=1 p50"
)


def render(result: dict[str, Any]) -> str:
    out: list[str] = []
    s = result["settings"]
    out.append(f"Switchyard bench {result['run_id']} on {one_line(result['machine'])}")
    out.append(
        f"windows: {s['window_s']} s measured per run after a ~{s['warmup_s']} s warm-up;"
        f" h2load {s['connections']} connections x {s['streams']} streams;"
        f" router verifier mode: {s['verifier_mode']}; took {result['duration_s']:.0f} s"
    )
    background = result["machine"].get("busy_before_run_percent")
    if background is not None:
        out.append(
            f"cores busy before the run (other work on this machine): {background:.0f} %"
            + ("  <- figures are depressed by it" if background >= 10 else "")
        )
    sc = result["scenarios"]
    out += ["", THROUGHPUT_TITLE]
    out.append(table(THROUGHPUT_HEADERS, throughput_rows(sc)))
    for name, figures in sc.items():
        kind = figures.get("kind")
        if "skipped" in figures or "error" in figures:
            if kind != "throughput":
                out += ["", f"{name}: {figures.get('skipped') or figures.get('error')}"]
            continue
        if kind == "fixed_rate":
            title = f"{name}: {figures['about']} (max {figures['max_rps']:,.0f}/s)"
            out += ["", title, FIXED_RATE_NOTE]
            out.append(table(FIXED_RATE_HEADERS, fixed_rate_rows(figures)))
        elif kind == "faults":
            out += ["", f"{name}: {figures['about']} at {figures['rate_rps']:.0f} req/s"]
            out.append(
                f"faults on at {figures['injected_at_s']:.1f} s, off at"
                f" {figures['cleared_at_s']:.1f} s (of {figures['phases_s']['end']:g} s)"
            )
            out.append(table(FAULT_HEADERS, fault_rows(figures)))
            transitions = figures["breaker_transitions"]
            if transitions:
                out.append(
                    "breakers: "
                    + "; ".join(
                        f"{t['t_s']:.1f}s {t['model']} {t['from']}->{t['to']}" for t in transitions
                    )
                )
            else:
                out.append("breakers: no transition")
        elif kind == "scale":
            out += ["", f"{name}: {figures['about']}"]
            out.append(
                table(
                    ("routers", "max req/s", "p50 ms", "p99 ms", "counts ok"), scale_rows(figures)
                )
            )
            split = figures["requests_per_router"]
            out.append(f"ratio {figures['ratio']:.2f}x; requests per router: {split}")
            out.append(f"limit: {figures['limit']}")
    out += paired_lines(sc)
    peers = result.get("peers", {})
    out.append("")
    if peers.get("gateways") or peers.get("simulator_direct"):
        out.append(PEER_TITLE)
        out.append(table(PEER_HEADERS, peer_rows(peers, sc.get("single", {}), sc.get("fallback"))))
    else:
        out.append(f"Peers: {peers.get('status', 'not run')}")
    out += ["", "Targets (issue 6)"]
    out.append(table(("target", "goal", "measured", "met"), target_rows(result["targets"])))
    disturbed = disturbed_runs(result)
    if disturbed:
        out.append("")
        out.append(
            f"Other work on the machine took >= {OTHER_LOAD_WARN_PERCENT:.0f} % of it during:"
            f" {', '.join(disturbed)}; those figures are depressed by it."
        )
    out.append("")
    if result["reconciled"]:
        out.append("Counts: every run reconciled (sent = answered + typed errors).")
    else:
        out.append("!" * 78)
        out.append("COUNTS DO NOT RECONCILE in: " + ", ".join(result["not_reconciled"]))
        out += [f"  {p}" for p in result.get("count_problems", [])[:20]]
        out.append("!" * 78)
    return "\n".join(out)


def paired_lines(sc: dict[str, Any]) -> list[str]:
    """Each paired variant against its base: the rounds' and the interleaved slices'
    throughput drops (the targets use the slices when there are any)."""
    out: list[str] = []
    for name, figures in sc.items():
        paired = figures.get("paired")
        if not paired:
            continue
        out += ["", f"{name} against {paired['base']} (paired):"]
        drops = ", ".join(f"{d:+.1f}" for d in paired["throughput_drop_pct"])
        out.append(
            f"  rounds: throughput drop % {drops}; median {paired['median_throughput_drop_pct']}"
            f" %; added p99 excess median {paired['median_router_added_p99_excess_us']} µs"
        )
        slices = paired.get("interleaved")
        if slices and "error" in slices:
            out.append(f"  interleaved slices: FAILED ({slices['error']}): targets not measured")
        elif slices:
            drops = ", ".join(f"{d:+.1f}" for d in slices["throughput_drop_pct"])
            p99 = slices["router_added_p99_ms"]
            out.append(
                f"  interleaved slices: drop % {drops}; median"
                f" {slices['median_throughput_drop_pct']} %; router CPU per request"
                f" {slices.get('median_router_cpu_excess_pct')} % above the base (median)"
            )
            interval = slices.get("router_added_p99_excess_interval_us")
            spread = (
                f" (95 % bootstrap interval {interval[0]} to {interval[1]})" if interval else ""
            )
            out.append(
                f"  alternating sample: added p99 {p99['base']} ms (base) vs {p99['variant']}"
                f" ms: {slices['router_added_p99_excess_us']} µs{spread}"
            )
    return out


README_HEADERS = (
    "scenario",
    "max Route()/s",
    "p50 / p99 ms at max",
    "router-added p50 / p99 ms (c=1, trace)",
    "$ per 1k",
    "escalated",
)
README_PEER_HEADERS = (
    "gateway (same simulator, same load generator)",
    "max req/s",
    "added p50 ms (c=1)",
    "Switchyard throughput x",
    "Switchyard lower added latency x",
)


def readme_table(result: dict[str, Any]) -> str:
    """Markdown for the README: the headline figures and the machine."""
    sc = result["scenarios"]
    lines = [
        f"Measured by `make bench` ({result['run_id']}) on {one_line(result['machine'])};"
        f" {result['settings']['window_s']:g} s windows, ratios from one run.",
        "",
        md_row(README_HEADERS),
        md_row(["---", *["---:"] * (len(README_HEADERS) - 1)]),
    ]
    for row in throughput_rows(sc):
        if not isinstance(row[1], float | int):
            continue
        lines.append(
            f"| {row[0]} | {row[1]:,.0f} | {row[2]:.1f} / {row[3]:.1f} |"
            f" {cell(row[5])} / {cell(row[6])} | {cell(row[8])} | {row[9]} |"
        )
    fixed = sc.get("fixed-rate", {})
    for point in fixed.get("points", []):
        own = point.get("server_handling_ms", {}).get("p99")
        own_text = f"; router's own p99 {own:.1f}" if own is not None else ""
        lines.append(
            f"| single at {point['fraction'] * 100:.0f} % load"
            f" (offered {point['offered_rps']:,.0f}/s, achieved {point['achieved_rps']:,.0f}/s)"
            f" | - | {point['latency_ms']['p50']:.1f} / {point['latency_ms']['p99']:.1f} |"
            f" {point['router_added_ms']['p50']:.1f} / {point['router_added_ms']['p99']:.1f}"
            f" (at that load{own_text}) | - | - |"
        )
    peers = result.get("peers", {})
    rows = peer_rows(peers, sc.get("single", {}), sc.get("fallback"))
    if rows:
        lines += [
            "",
            md_row(README_PEER_HEADERS),
            md_row(["---", *["---:"] * (len(README_PEER_HEADERS) - 1)]),
        ]
        for row in rows:
            if isinstance(row[1], str):
                lines.append(f"| {row[0]} | {row[1]} | - | - | - |")
            else:
                lines.append(md_row([row[0], f"{row[1]:,.0f}", *map(cell, row[4:7])]))
    scale = sc.get("scale", {})
    if "ratio" in scale:
        lines += [
            "",
            f"2 routers sharing the port: {scale['ratio']:.2f}x one router ({scale['limit']}).",
        ]
    missed = [t["target"] for t in result["targets"] if t["met"] is False]
    if missed:
        lines += ["", "Targets missed in this run: " + "; ".join(missed) + "."]
    return "\n".join(lines)


def write(result: dict[str, Any], out_dir: Path = RESULTS_DIR) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bench-{result['run_id']}.json"
    text = json.dumps(result, indent=2, sort_keys=False) + "\n"
    path.write_text(text)
    (out_dir / "latest.json").write_text(text)
    return path
