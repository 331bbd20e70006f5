"""The chaos run's Markdown tables (terminal and README) and its JSON file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.chaos.checks import Check
from bench.chaos.summary import PhaseSummary
from bench.tables import md_row

PHASE_HEADERS = (
    "phase",
    "sent",
    "answered",
    "degraded",
    "errors by code",
    "cut by client (ended)",
    "attempts/req",
    "p50 ms",
    "p99 ms",
    "success",
    "recovery s",
)


def _errors(s: PhaseSummary) -> str:
    if not s.errors:
        return "0"
    return ", ".join(f"{code} {n}" for code, n in sorted(s.errors.items()))


def _cut(s: PhaseSummary) -> str:
    if not s.cut_by_client:
        return "0"
    ended = ", ".join(f"{code} {n}" for code, n in sorted(s.cut_codes.items()))
    return f"{s.cut_by_client} ({ended})"


def _percent(rate: float | None) -> str:
    if rate is None:
        return "-"
    # Near 100 % the third decimal is the point (99.9 % is the soak's target).
    return f"{rate * 100:.3f} %" if rate >= 0.99 else f"{rate * 100:.2f} %"


def _seconds(value: float | None, *, missing: str = "-") -> str:
    return missing if value is None else f"{value:.2f}"


def phase_rows(summaries: Sequence[PhaseSummary]) -> list[list[str]]:
    return [
        [
            s.name,
            str(s.sent),
            str(s.answered),
            str(s.degraded),
            _errors(s),
            _cut(s),
            f"{s.attempts_per_request:.2f}",
            f"{s.p50_ms:.0f}",
            f"{s.p99_ms:.0f}",
            _percent(s.success_rate),
            _seconds(s.recovery_s, missing="-" if s.name == "baseline" else "never"),
        ]
        for s in summaries
    ]


def phase_table(summaries: Sequence[PhaseSummary]) -> str:
    lines = [md_row(PHASE_HEADERS), md_row(["---"] + ["---:"] * (len(PHASE_HEADERS) - 1))]
    lines += [md_row(row) for row in phase_rows(summaries)]
    return "\n".join(lines)


def check_table(checks: Sequence[Check]) -> str:
    lines = [md_row(("check", "phase", "result", "measured", "limit")), md_row(["---"] * 5)]
    lines += [
        md_row((c.name, c.phase, "pass" if c.passed else "**FAIL**", c.measured, c.limit))
        for c in checks
    ]
    return "\n".join(lines)


def failed(checks: Sequence[Check]) -> list[Check]:
    return [c for c in checks if not c.passed]


def render(
    result: dict[str, Any], summaries: Sequence[PhaseSummary], checks: Sequence[Check]
) -> str:
    settings = result["settings"]
    out = [
        f"Switchyard chaos run {result['run_id']} ({settings['profile']}): "
        f"{settings['rate_rps']:g} req/s for {result['duration_s']:.0f} s,"
        f" soak {settings['soak_s']:g} s; {result['machine_line']}",
        "",
        phase_table(summaries),
        "",
        "success = real answers (not degraded) among the calls sent during the fault that"
        " the client did not cut short; errors absorbed by a retry or the next stage count"
        " as successes and show in attempts/req; p50/p99 over answered calls;"
        " recovery = fault end to the first real answer.",
        "",
        check_table(checks),
    ]
    bad = failed(checks)
    out += ["", f"{len(bad)} check(s) FAILED" if bad else "all checks passed"]
    return "\n".join(out)


def write_json(result: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"chaos-{result['run_id']}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    return path


def render_file(path: Path) -> str:
    """The tables of a results file (`python -m bench.chaos --readme FILE`)."""
    result = json.loads(path.read_text())
    summaries = [PhaseSummary.from_dict(d) for d in result["phases"]]
    checks = [Check.from_dict(d) for d in result["checks"]]
    return render(result, summaries, checks)
