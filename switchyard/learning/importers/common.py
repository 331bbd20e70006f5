"""What the importers share: where the shared data lives, CSV reading, estimated
token counts."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from switchyard.learning.dataset import DatasetError, Message, ModelAnswer
from switchyard.tasks import estimate_tokens

DATA_DIR_ENV = "SWITCHYARD_DATA_DIR"
# The repository sits next to the shared data folder: <repo>/../shared/data.
_REPO_ROOT = Path(__file__).resolve().parents[3]


def default_data_dir() -> Path:
    """`$SWITCHYARD_DATA_DIR`, else `../shared/data` beside the repository."""
    return Path(os.environ.get(DATA_DIR_ENV) or _REPO_ROOT.parent / "shared" / "data")


def user_turn(prompt: str) -> tuple[Message, ...]:
    return (Message("user", prompt),)


def estimated_answer(prompt: str, quality: float, answer: str | None) -> ModelAnswer:
    """An answer whose source recorded no token counts: ~4 characters per token, as the
    router estimates before a model has tokenized anything, and flagged as estimated."""
    return ModelAnswer(
        quality=quality,
        input_tokens=estimate_tokens(prompt),
        output_tokens=estimate_tokens(answer) if answer else 0,
        answer=answer,
        tokens_estimated=True,
    )


def csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str], list[str]]]:
    """(first line number, row, header) for each row; unreadable files are DatasetErrors.

    The line number is where the row starts, which is what an editor shows, even when a
    quoted answer spans many lines.
    """
    csv.field_size_limit(sys.maxsize)  # recorded answers can be long
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise DatasetError(path, f"cannot read: {exc.strerror or exc}") from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = list(reader.fieldnames or [])
            previous_end = reader.line_num
            for row in reader:
                if None in row:
                    raise DatasetError(
                        path, "more cells than header columns", line=previous_end + 1
                    )
                yield previous_end + 1, row, header
                previous_end = reader.line_num
        except csv.Error as exc:
            raise DatasetError(path, f"not valid CSV: {exc}", line=reader.line_num) from exc


def require_columns(path: Path, header: list[str], columns: list[str]) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise DatasetError(
            path,
            f"no such column (columns: {', '.join(header) or 'none'})",
            line=1,
            field=missing[0],
        )


def parse_bool_label(path: Path, line: int, column: str, text: str) -> float:
    """RouteLLM's correctness cells: exactly True or False."""
    if text == "True":
        return 1.0
    if text == "False":
        return 0.0
    raise DatasetError(path, f"expected True or False, got {text!r}", line=line, field=column)


def jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL file."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(path, f"cannot read: {exc.strerror or exc}") from exc
    with handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError as exc:
                raise DatasetError(path, f"not valid JSON: {exc}", line=number) from exc
            if not isinstance(obj, dict):
                raise DatasetError(path, "each line must be a JSON object", line=number)
            yield number, obj
