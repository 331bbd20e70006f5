"""One evaluation run end to end, and how it is shown: the table, the JSON, the curve.

`run_evaluation` routes the policy (and each sweep value) through the router's code,
adds the references, and fills the curve metrics over one shared cost range.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from switchyard.cli.tables import format_table
from switchyard.learning import evaluate
from switchyard.learning.evaluate import EvalSetup, OperatingPoint, StrategyResult
from switchyard.learning.sweep import (
    DEFAULT_POINTS,
    SweepSpec,
    load_policy_document,
    policy_at,
)
from switchyard.policy import Policy, parse_policy


@dataclass
class EvalReport:
    dataset: str
    requests: int
    skipped: int
    model_map: dict[str, str]
    weak_strong: tuple[str, str] | None
    rows: list[StrategyResult]
    sweep: str = ""
    notes: list[str] = field(default_factory=list)

    def row(self, name: str) -> StrategyResult:
        return next(r for r in self.rows if r.name == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "requests": self.requests,
            "skipped_records": self.skipped,
            "model_map": self.model_map,
            "weak_strong": list(self.weak_strong) if self.weak_strong else None,
            "sweep": self.sweep,
            "notes": self.notes,
            "rows": [json_ready(asdict(r)) for r in self.rows],
        }


def json_ready(value: Any) -> Any:
    """JSON has no NaN: undefined figures become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


def reference_rows(setup: EvalSetup) -> tuple[list[StrategyResult], tuple[str, str] | None]:
    """Each single model and the oracle; (weak, strong) when the data has two models."""
    singles = [
        evaluate.summarize(m, "model", evaluate.single_model_outcomes(setup, m), strong=None)
        for m in setup.models
    ]
    weak_strong = evaluate.weak_and_strong(singles)
    strong = weak_strong[1] if weak_strong else None
    if strong:
        singles = [s.with_strong_fraction(float(s.name == strong)) for s in singles]
    oracle = evaluate.summarize("oracle", "oracle", evaluate.oracle_outcomes(setup), strong=strong)
    return [*singles, oracle], weak_strong


async def policy_result(
    setup: EvalSetup, policy: Policy, *, name: str, kind: str, strong: str | None, setting=""
) -> StrategyResult:
    """A policy's row: every record routed through the router's code."""
    routed = await evaluate.route_policy(setup, policy)
    outcomes = evaluate.policy_outcomes(setup, routed)
    return evaluate.summarize(name, kind, outcomes, strong=strong, setting=setting)


async def sweep_result(
    setup: EvalSetup,
    policy_source: str,
    sweep: SweepSpec,
    *,
    name: str,
    strong: str | None,
    points: int = DEFAULT_POINTS,
) -> StrategyResult:
    """A sweep's row: one routed run per knob value, its curve the points of all runs."""
    known = list(setup.profiles)
    document = load_policy_document(policy_source)
    values = sweep.values
    if values is None:
        pilot_value = sweep.knob.pilot_value()
        pilot = []
        if pilot_value is not None:
            pilot_policy = policy_at(document, sweep.knob, pilot_value, known_models=known)
            pilot = await evaluate.route_policy(setup, pilot_policy)
        values = tuple(sweep.knob.grid(pilot, points))
    curve: list[OperatingPoint] = []
    for value in values:
        swept = policy_at(document, sweep.knob, value, known_models=known)
        row = await policy_result(
            setup, swept, name=name, kind="sweep", strong=strong, setting=f"{sweep.name}={value:g}"
        )
        assert row.point is not None
        curve.append(row.point)
    return StrategyResult(
        name=f"{name} · {sweep.name} sweep ({len(curve)} points)",
        kind="sweep",
        point=None,
        curve=tuple(curve),
        requests=len(setup.records),
    )


def has_answer_texts(setup: EvalSetup) -> bool:
    return any(r.answers[setup.model_map[m]].answer for r in setup.records for m in setup.models)


async def run_evaluation(
    setup: EvalSetup,
    policy_source: str,
    *,
    dataset: str,
    sweep: SweepSpec | None = None,
    points: int = DEFAULT_POINTS,
) -> EvalReport:
    policy = parse_policy(policy_source, known_models=list(setup.profiles))
    references, weak_strong = reference_rows(setup)
    strong = weak_strong[1] if weak_strong else None
    name = f"policy {policy.name}"
    as_written = await policy_result(
        setup, policy, name=name, kind="policy", strong=strong, setting="as written"
    )
    rows = [as_written]
    notes = []
    if not has_answer_texts(setup):
        notes.append("the dataset holds no answer texts: checks and the scorer judge empty answers")
    if sweep is not None:
        rows.append(
            await sweep_result(setup, policy_source, sweep, name=name, strong=strong, points=points)
        )
    for row in rows:
        shares = [p.strong_fraction for p in row.curve if p.strong_fraction is not None]
        if row.kind == "sweep" and shares and (min(shares) > 0.001 or max(shares) < 0.999):
            notes.append(
                f"the sweep's strong-call share spans {min(shares):.1%}-{max(shares):.1%}: "
                "APGR and CPT close the curve with always-weak (0 %) and always-strong (100 %)"
            )
    singles = [r for r in references if r.kind == "model"]
    assert as_written.point is not None
    random = evaluate.random_reference(singles, at_cost=as_written.point.cost_micros, strong=strong)
    rows = evaluate.finalize([*rows, *references, random], weak_strong=weak_strong)
    return EvalReport(
        dataset=dataset,
        requests=len(setup.records),
        skipped=setup.skipped,
        model_map=dict(setup.model_map),
        weak_strong=weak_strong,
        rows=rows,
        sweep=sweep.name if sweep else "",
        notes=notes,
    )


# -- text -------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.1%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _dollars_per_1k(micros_per_request: float) -> str:
    # µUSD per request × 1000 requests / 1e6 µUSD per USD
    return f"${micros_per_request / 1000:.4f}"


def _shares(share: dict[str, float]) -> str:
    return " ".join(f"{m} {s:.0%}" for m, s in share.items()) or "—"


HEADER = (
    "strategy",
    "quality",
    "$/1k req",
    "strong%",
    "escal%",
    "APGR",
    "CPT50",
    "CPT80",
    "AIQ",
    "calls by model",
)


def table_rows(rows: Sequence[StrategyResult]) -> list[tuple[str, ...]]:
    out = []
    for r in rows:
        p = r.point
        out.append(
            (
                r.name,
                _num(p.quality) if p else "—",
                _dollars_per_1k(p.cost_micros) if p else "—",
                _pct(p.strong_fraction) if p else "—",
                _pct(r.escalation_rate),
                _num(r.apgr),
                _pct(r.cpt50),
                _pct(r.cpt80),
                _num(r.aiq),
                _shares(dict(r.call_share)),
            )
        )
    return out


def format_report(report: EvalReport) -> str:
    mapped = ", ".join(f"{f}={d}" for f, d in report.model_map.items())
    lines = [
        f"{report.dataset}: {report.requests} requests"
        + (f" ({report.skipped} records skipped: missing answers)" if report.skipped else ""),
        f"models (fleet=dataset): {mapped}",
    ]
    if report.weak_strong:
        lines.append(
            f"two-model data: weak {report.weak_strong[0]}, strong {report.weak_strong[1]}; "
            "strong% = requests that called the strong model"
        )
    lines += ["", format_table(HEADER, table_rows(report.rows))]
    sweep = next((r for r in report.rows if r.kind == "sweep"), None)
    if sweep is not None:
        lines += ["", f"{sweep.name}:"]
        curve_rows = [
            (p.setting, _num(p.quality), _dollars_per_1k(p.cost_micros), _pct(p.strong_fraction))
            for p in sweep.curve
        ]
        lines.append(format_table(("setting", "quality", "$/1k req", "strong%"), curve_rows))
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def write_json(report: EvalReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), indent=2) + "\n")
