"""A team's own CSV: one row per prompt, one or more columns per model.

    prompt,small_ok,large_ok,small_cost_usd,large_cost_usd
    "Summarise this ticket ...",true,true,0.00012,0.0021

`models` names each model's correctness column; the optional mappings name its answer
text, cost, latency and token columns. Labels are read by `parse_quality` (true/false,
yes/no, correct/incorrect, 1/0 or a number in [0, 1]) or, with `judge_scale=(1, 10)`,
as judge scores mapped linearly onto [0, 1]. An empty label cell means the model did not
answer that prompt. Costs are USD unless `cost_unit="micros"`; without a cost column the
cost is left out, to be derived from registry prices. Without token columns the counts
are estimated (~4 characters per token) and flagged. Ids come from `id_column`, else
`<file stem>/<row index>` (appending rows keeps every existing id).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from switchyard.learning.dataset import (
    DatasetError,
    DatasetRecord,
    Message,
    ModelAnswer,
    parse_quality,
    quality_from_judge,
)
from switchyard.learning.importers.common import csv_rows, require_columns
from switchyard.learning.prices import usd_to_micros
from switchyard.tasks import DEFAULT_TASK_TYPE, TASK_TYPES, estimate_tokens

COST_UNITS = ("usd", "micros")
_NONE: Mapping[str, str] = MappingProxyType({})


class _Row:
    """Cell access on one CSV row that raises DatasetError naming line and column."""

    def __init__(self, path: Path, line: int, row: Mapping[str, str | None]) -> None:
        self.path, self.line, self.row = path, line, row

    def fail(self, column: str, message: str) -> DatasetError:
        return DatasetError(self.path, message, line=self.line, field=column)

    def text(self, column: str | None) -> str:
        return (self.row.get(column) or "").strip() if column else ""

    def number(self, column: str, *, integer: bool = False) -> float | None:
        text = self.text(column)
        if not text:
            return None
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            kind = "an integer" if integer else "a number"
            raise self.fail(column, f"must be {kind}, got {text!r}") from None
        if not math.isfinite(value) or value < 0:
            raise self.fail(column, f"must be >= 0, got {text!r}")
        return value


def import_csv(
    path: Path,
    *,
    prompt_column: str,
    models: Mapping[str, str],
    cost_columns: Mapping[str, str] = _NONE,
    answer_columns: Mapping[str, str] = _NONE,
    latency_columns: Mapping[str, str] = _NONE,
    input_tokens_columns: Mapping[str, str] = _NONE,
    output_tokens_columns: Mapping[str, str] = _NONE,
    cost_unit: str = "usd",
    judge_scale: tuple[float, float] | None = None,
    task_type: str | None = None,
    task_type_column: str | None = None,
    id_column: str | None = None,
    system_column: str | None = None,
    tenant_column: str | None = None,
    tier_column: str | None = None,
    metadata_columns: Sequence[str] = (),
) -> list[DatasetRecord]:
    path = Path(path)
    if not models:
        raise DatasetError(path, "name at least one model and its correctness column")
    if cost_unit not in COST_UNITS:
        raise DatasetError(path, f"cost unit must be one of {', '.join(COST_UNITS)}")
    if task_type is not None and task_type not in TASK_TYPES:
        raise DatasetError(
            path, f"task type {task_type!r} is not one of {', '.join(sorted(TASK_TYPES))}"
        )
    column_maps = {
        "cost": cost_columns,
        "answer": answer_columns,
        "latency": latency_columns,
        "input tokens": input_tokens_columns,
        "output tokens": output_tokens_columns,
    }
    for kind, mapping in column_maps.items():
        strangers = sorted(set(mapping) - set(models))
        if strangers:
            raise DatasetError(
                path, f"{kind} column for {strangers[0]!r}, which is not a named model"
            )
    optional = [task_type_column, id_column, system_column, tenant_column, tier_column]
    wanted = [
        prompt_column,
        *models.values(),
        *(c for mapping in column_maps.values() for c in mapping.values()),
        *(c for c in optional if c),
        *metadata_columns,
    ]
    records: list[DatasetRecord] = []
    seen: set[str] = set()
    for index, (line, raw, header) in enumerate(csv_rows(path)):
        if index == 0:
            require_columns(path, header, wanted)
        row = _Row(path, line, raw)
        prompt = row.text(prompt_column)
        if not prompt:
            raise row.fail(prompt_column, "empty prompt")
        system = row.text(system_column)
        messages = ((Message("system", system),) if system else ()) + (Message("user", prompt),)
        answers = {}
        for model, label_column in models.items():
            label = row.text(label_column)
            if not label:
                continue  # this model did not answer this prompt
            answers[model] = ModelAnswer(
                quality=_quality(row, label_column, label, judge_scale),
                **_tokens(
                    row,
                    model,
                    prompt,
                    input_tokens_columns,
                    output_tokens_columns,
                    row.text(answer_columns.get(model)),
                ),
                answer=row.text(answer_columns.get(model)) or None,
                cost_micros=_cost(row, cost_columns.get(model), cost_unit),
                latency_ms=row.number(latency_columns[model]) if model in latency_columns else None,
            )
        if not answers:
            raise row.fail(next(iter(models.values())), "no model has a label on this row")
        record_id = row.text(id_column) if id_column else f"{path.stem}/{index:05d}"
        if not record_id:
            raise row.fail(id_column or "", "empty id")
        if record_id in seen:
            raise row.fail(id_column or "", f"duplicate id {record_id!r}")
        seen.add(record_id)
        row_task = row.text(task_type_column) or task_type or DEFAULT_TASK_TYPE
        if row_task not in TASK_TYPES:
            raise row.fail(
                task_type_column or "",
                f"{row_task!r} is not one of {', '.join(sorted(TASK_TYPES))}",
            )
        records.append(
            DatasetRecord(
                id=record_id,
                messages=messages,
                task_type=row_task,
                answers=answers,
                tenant=row.text(tenant_column),
                tier=row.text(tier_column),
                metadata={c: row.text(c) for c in metadata_columns if row.text(c)},
            )
        )
    if not records:
        raise DatasetError(path, "the file holds no rows")
    return records


def _quality(row: _Row, column: str, text: str, judge_scale: tuple[float, float] | None) -> float:
    try:
        if judge_scale is None:
            return parse_quality(text)
        low, high = judge_scale
        return quality_from_judge(float(text), low=low, high=high)
    except ValueError as exc:
        if "outside" in str(exc):
            raise row.fail(column, str(exc)) from None
        expected = "a judge score" if judge_scale else "true/false, yes/no, 1/0 or a number in 0..1"
        raise row.fail(column, f"cannot read {text!r} as a label ({expected})") from None


def _tokens(
    row: _Row,
    model: str,
    prompt: str,
    input_columns: Mapping[str, str],
    output_columns: Mapping[str, str],
    answer: str,
) -> dict[str, int | bool]:
    recorded_in = row.number(input_columns[model], integer=True) if model in input_columns else None
    recorded_out = (
        row.number(output_columns[model], integer=True) if model in output_columns else None
    )
    return {
        "input_tokens": int(recorded_in) if recorded_in is not None else estimate_tokens(prompt),
        "output_tokens": int(recorded_out) if recorded_out is not None else estimate_tokens(answer),
        "tokens_estimated": recorded_in is None or recorded_out is None,
    }


def _cost(row: _Row, column: str | None, unit: str) -> int | None:
    value = row.number(column) if column else None
    if value is None:
        return None
    if unit == "usd":
        return usd_to_micros(value)
    if value != int(value):
        raise row.fail(column or "", f"micro-USD must be a whole number, got {value!r}")
    return int(value)
