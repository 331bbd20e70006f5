"""The PNG next to each result file: throughput, latency at fixed rates, the fault
timeline and the peer comparison, in one figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def draw(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(14, 9))
    fig.suptitle(
        f"Switchyard bench {result['run_id']} - {result['machine']['nproc']} cores,"
        f" {result['machine']['cpu_model']}",
        fontsize=12,
    )
    _throughput(axes[0][0], result)
    _fixed_rate(axes[0][1], result)
    _faults(axes[1][0], result)
    _peers(axes[1][1], result)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _throughput(ax: Any, result: dict[str, Any]) -> None:
    names, values = [], []
    for name, s in result["scenarios"].items():
        if s.get("kind") == "throughput" and "throughput_rps" in s:
            names.append(name)
            values.append(s["throughput_rps"])
        if s.get("kind") == "scale" and "ratio" in s:
            names.append(f"{s['routers']} routers")
            values.append(s["many"]["throughput_rps"])
    bars = ax.bar(names, values, color="#4C72B0")
    ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_title("Max throughput (h2load), requests/s")
    ax.tick_params(axis="x", labelrotation=20)


def _fixed_rate(ax: Any, result: dict[str, Any]) -> None:
    fixed = next(
        (
            s
            for s in result["scenarios"].values()
            if s.get("kind") == "fixed_rate" and "points" in s
        ),
        None,
    )
    ax.set_title("Latency at fixed offered rates (no coordinated omission)")
    if fixed is None:
        ax.text(0.5, 0.5, "not measured", ha="center")
        return
    rates = [p["offered_rps"] for p in fixed["points"]]
    for key, label, style in (
        (("latency_ms", "p50"), "Route p50", "-o"),
        (("latency_ms", "p99"), "Route p99", "-s"),
        (("router_added_ms", "p99"), "router-added p99", "--^"),
    ):
        ax.plot(rates, [p[key[0]][key[1]] for p in fixed["points"]], style, label=label)
    floor = [p.get("floor", {}).get("latency_ms", {}).get("p99") for p in fixed["points"]]
    if all(v is not None for v in floor):
        ax.plot(rates, floor, ":x", label="echo floor p99")
    ax.axhline(3.0, color="grey", linewidth=0.8, linestyle="--", label="3 ms target")
    ax.set_yscale("log")
    ax.set_xlabel("offered requests/s")
    ax.set_ylabel("ms (log scale)")
    ax.legend(fontsize=8)


def _faults(ax: Any, result: dict[str, Any]) -> None:
    faults = next(
        (s for s in result["scenarios"].values() if s.get("kind") == "faults" and "timeline" in s),
        None,
    )
    ax.set_title("Faults: share of answers by model per second")
    if faults is None:
        ax.text(0.5, 0.5, "not measured", ha="center")
        return
    rows = faults["timeline"]
    t = [r["t_s"] for r in rows]
    models = sorted({m for r in rows for m in r["answered_by"]})
    bottom = [0.0] * len(rows)
    for model in models:
        share = [r["answered_by"].get(model, 0.0) * 100 for r in rows]
        ax.bar(t, share, bottom=bottom, width=0.9, align="edge", label=model)
        bottom = [b + s for b, s in zip(bottom, share, strict=True)]
    on, off = faults["phases_s"]["faults_on"], faults["phases_s"]["faults_off"]
    ax.axvspan(on, off, facecolor="none", edgecolor="red", hatch="//", alpha=0.5, zorder=3)
    # Transitions at the same moment (open -> half_open -> closed) share one label.
    moments: dict[float, list[str]] = {}
    for transition in faults["breaker_transitions"]:
        moments.setdefault(round(transition["t_s"], 1), []).append(
            f"{transition['model']} {transition['to']}"
        )
    for t, labels in moments.items():
        ax.axvline(t, color="black", linewidth=1.2, linestyle="--", zorder=4)
        ax.text(
            t + 0.15,
            50,
            " -> ".join(labels),
            rotation=90,
            fontsize=7,
            va="center",
            zorder=5,
            bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0},
        )
    ax.set_ylim(0, 100)
    ax.set_xlabel("seconds (hatched: faults on; dashed: breaker transitions)")
    ax.set_ylabel("% of answers")
    ax.legend(fontsize=8, loc="lower left")


def _peers(ax: Any, result: dict[str, Any]) -> None:
    ax.set_title("Gateways: max requests/s (bars) and added p50 ms at c=1 (labels)")
    rows = result.get("peers", {}).get("comparison", {}).get("rows", {})
    measured = {k: v for k, v in rows.items() if "throughput_rps" in v}
    if not measured:
        ax.text(0.5, 0.5, result.get("peers", {}).get("status", "not run"), ha="center", wrap=True)
        return
    names = list(measured)
    bars = ax.bar(names, [measured[n]["throughput_rps"] for n in names], color="#55A868")
    ax.bar_label(bars, labels=[f"+{measured[n]['added_p50_ms']:.2f} ms" for n in names], fontsize=8)
    ax.tick_params(axis="x", labelrotation=15)
