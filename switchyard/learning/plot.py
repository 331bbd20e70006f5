"""The cost-quality chart of an evaluation: every row's points, with the references.

matplotlib is an optional dependency (the `bench` extra); `available()` says whether
it is installed, and only `draw` imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchyard.learning import metrics
from switchyard.learning.evaluate import StrategyResult

CURVE_KINDS = ("sweep", "cascade", "curve")


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _dollars(micros: float) -> float:
    return micros / 1000.0  # µUSD per request -> USD per 1k requests


def _cost_quality(ax: Any, rows: Sequence[StrategyResult]) -> None:
    for row in rows:
        if row.kind == "random":
            xs = [_dollars(p.cost_micros) for p in row.curve]
            ys = [p.quality for p in row.curve]
            ax.plot(xs, ys, "--", color="grey", label="random mixture of single models")
        elif row.kind == "model" and row.point:
            ax.scatter([_dollars(row.point.cost_micros)], [row.point.quality], s=45, zorder=3)
            ax.annotate(
                row.name,
                (_dollars(row.point.cost_micros), row.point.quality),
                textcoords="offset points",
                xytext=(5, -12),
                fontsize=8,
            )
        elif row.kind == "oracle" and row.point:
            ax.scatter(
                [_dollars(row.point.cost_micros)],
                [row.point.quality],
                marker="*",
                s=160,
                color="gold",
                edgecolors="black",
                zorder=4,
                label="oracle (cheapest best model)",
            )
        elif row.kind in CURVE_KINDS and row.curve:
            points = sorted(row.curve, key=lambda p: p.cost_micros)
            line = ax.plot(
                [_dollars(p.cost_micros) for p in points],
                [p.quality for p in points],
                marker=".",
                label=f"{row.name} (AIQ {row.aiq:.3f})" if row.aiq is not None else row.name,
            )
            hull = metrics.quality_hull(
                metrics.CostQuality(p.cost_micros, p.quality) for p in row.curve
            )
            ax.plot(
                [_dollars(h.cost) for h in hull],
                [h.quality for h in hull],
                ":",
                color=line[0].get_color(),
                alpha=0.6,
            )
        elif row.point:
            ax.scatter(
                [_dollars(row.point.cost_micros)],
                [row.point.quality],
                marker="D",
                s=60,
                zorder=4,
                label=row.name,
            )
    ax.set_xlabel("cost, $ per 1k requests")
    ax.set_ylabel("quality (mean label of the answer served)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


def _pgr(ax: Any, rows: Sequence[StrategyResult], weak_strong: tuple[str, str]) -> None:
    by_name = {r.name: r for r in rows}
    weak = by_name[weak_strong[0]].point.quality
    strong = by_name[weak_strong[1]].point.quality
    ax.plot([0, 1], [0, 1], "--", color="grey", label="random (APGR 0.5)")
    for row in rows:
        if row.kind not in CURVE_KINDS:
            continue
        points = sorted(
            (p for p in row.curve if p.strong_fraction is not None),
            key=lambda p: p.strong_fraction,
        )
        ax.plot(
            [p.strong_fraction for p in points],
            [metrics.pgr(p.quality, weak=weak, strong=strong) for p in points],
            marker=".",
            label=f"{row.name} (APGR {row.apgr:.3f})" if row.apgr is not None else row.name,
        )
    ax.set_xlabel(f"strong-model calls ({weak_strong[1]}), share of requests")
    ax.set_ylabel("PGR (0 = always weak, 1 = always strong)")
    low, high = ax.get_ylim()
    if low < -1.0:  # a collapsing curve would flatten the interesting range
        ax.set_ylim(-1.0, max(high, 1.05))
        ax.annotate("curves below -1 clipped", (0.02, 0.95), xycoords="axes fraction", fontsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


@dataclass(frozen=True)
class Panel:
    """One dataset's chart: its rows, and the weak/strong pair for the PGR panel."""

    title: str
    rows: Sequence[StrategyResult]
    weak_strong: tuple[str, str] | None = None


def draw_panels(panels: Sequence[Panel], path: Path, *, title: str) -> Path:
    """One column per dataset: cost-quality on top, PGR below (two-model data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 2 if any(p.weak_strong for p in panels) else 1
    fig, axes = plt.subplots(
        rows, len(panels), figsize=(6.5 * len(panels), 5 * rows), squeeze=False
    )
    fig.suptitle(title, fontsize=11)
    for column, panel in enumerate(panels):
        prefix = f"{panel.title}: " if panel.title else ""
        _cost_quality(axes[0][column], panel.rows)
        axes[0][column].set_title(f"{prefix}cost-quality (dotted: AIQ hull)")
        if rows == 2:
            if panel.weak_strong:
                _pgr(axes[1][column], panel.rows, panel.weak_strong)
                axes[1][column].set_title(f"{prefix}performance gap recovered")
            else:
                axes[1][column].axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def draw(
    rows: Sequence[StrategyResult],
    path: Path,
    *,
    title: str,
    weak_strong: tuple[str, str] | None = None,
) -> Path:
    return draw_panels([Panel("", rows, weak_strong)], path, title=title)
