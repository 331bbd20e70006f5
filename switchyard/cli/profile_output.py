"""What `switchyard profile` shows: a progress bar while calls run (rich, on stderr),
then the figures as the CLI's plain table or as JSON (stdout)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from switchyard.cli.tables import format_table
from switchyard.learning.profile_write import Provenance, latency_ms_for_registry
from switchyard.learning.profiling import FailureMode, Figures, ModelSummary, Observation

_FAILURE_HEADERS = {
    FailureMode.TIMEOUT: "TIMEOUT",
    FailureMode.ERROR: "ERROR",
    FailureMode.MALFORMED: "MALFORMED",
    FailureMode.REFUSAL: "REFUSAL",
    FailureMode.TRUNCATION: "TRUNC",
    FailureMode.EMPTY: "EMPTY",
}


class ProgressDisplay:
    """One bar per model, advanced per observation; a no-op when disabled."""

    def __init__(self, models: Sequence[str], per_model: int, *, enabled: bool) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self._models = list(models)
        self._per_model = per_model
        self._tasks: dict[str, TaskID] = {}
        self._failed: dict[str, int] = {}

    def __enter__(self) -> ProgressDisplay:
        self._progress.start()
        for model in self._models:
            self._tasks[model] = self._progress.add_task(model, total=self._per_model, failed=0)
            self._failed[model] = 0
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def advance(self, observation: Observation) -> None:
        model = observation.model_id
        if observation.failure is not None:
            self._failed[model] += 1
        self._progress.update(self._tasks[model], advance=1, failed=self._failed[model])


def _latency(value: float | None) -> str:
    # Whole ms rounded up, as written to the registry.
    return "-" if value is None else str(latency_ms_for_registry(value))


def _row(model: str, task: str, f: Figures) -> list[str]:
    return [
        model,
        task,
        str(f.requests),
        f"{f.quality:.3f}",
        f"{f.labelled}",
        f"{f.mean_cost_micros:.1f}",
        _latency(f.latency_ms(50)),
        _latency(f.latency_ms(95)),
        _latency(f.latency_ms(99)),
        *(str(f.failure_count(mode)) for mode in FailureMode),
    ]


HEADER = (
    "MODEL",
    "TASK",
    "N",
    "QUALITY",
    "LABELLED",
    "µUSD/REQ",
    "P50 ms",
    "P95 ms",
    "P99 ms",
    *_FAILURE_HEADERS.values(),
)


def report_table(summaries: Sequence[ModelSummary]) -> str:
    """Per model: a row per task type, then `all`."""
    rows = []
    for summary in summaries:
        rows.extend(_row(summary.model_id, task, f) for task, f in summary.by_task.items())
        rows.append(_row(summary.model_id, "all", summary.overall))
    return format_table(HEADER, rows)


def format_report(
    summaries: Sequence[ModelSummary], provenance: Provenance, *, records: int
) -> str:
    sources = ", ".join(f"{s.model_id}: {s.dataset_model or 'any model'}" for s in summaries)
    return "\n".join(
        [
            f"Profiled {len(summaries)} model(s) on {records} record(s) of "
            f"{provenance.dataset} ({provenance.mode}, "
            f"{provenance.measured_at:%Y-%m-%d %H:%M} UTC)",
            report_table(summaries),
            f"LABELLED: replies that are a recorded answer, scored by its label ({sources});",
            "the rest by the verifier's verdict (1 or 0); calls without an answer score 0.",
        ]
    )


def figures_json(f: Figures) -> dict[str, Any]:
    return {
        "requests": f.requests,
        "answered": f.answered,
        "quality": round(f.quality, 6),
        "labelled": f.labelled,
        "cost_micros_mean": round(f.mean_cost_micros, 3),
        "cost_micros_total": f.cost_micros_total,
        "latency_ms": {f"p{p}": f.latency_ms(p) for p in (50, 95, 99)},
        "failures": {mode.value: f.failure_count(mode) for mode in FailureMode},
    }


def report_json(summaries: Sequence[ModelSummary], provenance: Provenance, *, records: int) -> str:
    return json.dumps(
        {
            "dataset": provenance.dataset,
            "mode": provenance.mode,
            "measured_at": provenance.measured_at.isoformat(),
            "records": records,
            "models": [
                {
                    "model": s.model_id,
                    "dataset_model": s.dataset_model,
                    "measured": s.measured,
                    "overall": figures_json(s.overall),
                    "by_task": {task: figures_json(f) for task, f in s.by_task.items()},
                }
                for s in summaries
            ],
        },
        indent=2,
    )
