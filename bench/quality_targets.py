"""Issue 12's held-out targets, judged on one `make bench-quality` run.

Missed targets are reported, not fatal (as in `make bench`); the reproduction checks
stay what sets the exit status. "Best strategy" is over the learned strategies (rows
of kind `cascade` or `sweep`: fitted or swept on the train half), never the oracle.
A curve is dominated by a single model when every one of its points is: the model
costs no more and is at least as good, and is cheaper or better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from switchyard.cli.tables import format_table
from switchyard.learning.evaluate import OperatingPoint, StrategyResult

APGR_GOALS = {"gsm8k": 0.78, "mmlu": 0.62, "routerarena": 0.70}
CPT50_GOALS = {"gsm8k": 0.15}
LEARNED = ("cascade", "sweep")
SELECTOR_ROWS = ("score selector", "auto selector")  # the router's score / auto rows


class Result(Protocol):
    name: str
    rows: list[StrategyResult]


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    measured: str
    met: bool | None


def dominates(a: OperatingPoint, b: OperatingPoint) -> bool:
    """a costs no more than b and is at least as good, and is strictly one of them."""
    no_worse = a.cost_micros <= b.cost_micros and a.quality >= b.quality
    return no_worse and (a.cost_micros < b.cost_micros or a.quality > b.quality)


def dominated_by(curve: Sequence[OperatingPoint], point: OperatingPoint) -> bool:
    return bool(curve) and all(dominates(point, p) for p in curve)


def _best(rows: Sequence[StrategyResult], metric: str, *, lower: bool) -> StrategyResult | None:
    scored = [r for r in rows if r.kind in LEARNED and getattr(r, metric) is not None]
    if not scored:
        return None
    pick = min if lower else max
    return pick(scored, key=lambda r: getattr(r, metric))


def _best_target(result: Result, metric: str, goal: float, *, lower: bool) -> Target:
    """The best learned row's `metric` against `goal` (lower is better for CPT)."""
    best = _best(result.rows, metric, lower=lower)
    value = getattr(best, metric) if best is not None else None
    label = "best CPT(50 %)" if lower else "best APGR"
    wanted = f"<= {goal:.0%}" if lower else f">= {goal:.2f}"
    shown = "" if value is None else (f"{value:.1%}" if lower else f"{value:.3f}")
    return Target(
        f"{result.name}: {label}",
        wanted,
        f"{shown} ({best.name})" if best is not None and value is not None else "-",
        None if value is None else (value <= goal if lower else value >= goal),
    )


def targets(results: Sequence[Result]) -> list[Target]:
    out: list[Target] = []
    for result in results:
        for metric, goals, lower in (("apgr", APGR_GOALS, False), ("cpt50", CPT50_GOALS, True)):
            if result.name in goals:
                out.append(_best_target(result, metric, goals[result.name], lower=lower))
        singles = [r for r in result.rows if r.kind == "model" and r.point is not None]
        for row in result.rows:
            if not row.name.startswith(SELECTOR_ROWS):
                continue
            over = [s.name for s in singles if s.point and dominated_by(row.curve, s.point)]
            out.append(
                Target(
                    f"{result.name}: {_selector_label(row.name)} curve not dominated",
                    "by no single model",
                    "dominated by " + ", ".join(over) if over else "not dominated",
                    not over,
                )
            )
    return out


def _selector_label(name: str) -> str:
    """ "score selector + learned predictor, strong share swept" → "score selector
    (strong share swept)": the selector and what its row sweeps, which tell rows apart."""
    selector, _, rest = name.partition(" + ")
    _, comma, swept = rest.rpartition(", ")
    return f"{selector} ({swept})" if comma else selector


def targets_table(found: Sequence[Target]) -> str:
    rows = [
        (t.name, t.goal, t.measured, {True: "yes", False: "MISSED", None: "not measured"}[t.met])
        for t in found
    ]
    return format_table(("target (issue 12)", "goal", "measured", "met"), rows)
