"""RouteLLM's MMLU correctness labels: 57 subject files, 14,042 questions, no answers.

Each `mmlu/mmlu_<subject>.csv` has `prompt` (the question and its lettered choices)
and per model a `True`/`False` correctness column. Every subject maps to task type
`reasoning` (one task shape: pick the right choice); the subject goes into metadata so
a finer mapping can be made from the records. Nothing but the label is recorded, so
the answer text is absent, input tokens are estimated from the prompt and output tokens
are 1 (a letter), all flagged `tokens_estimated`.
"""

from __future__ import annotations

from pathlib import Path

from switchyard.learning.dataset import DatasetError, DatasetRecord, ModelAnswer
from switchyard.learning.importers.common import (
    csv_rows,
    parse_bool_label,
    require_columns,
    user_turn,
)
from switchyard.tasks import estimate_tokens

DIRECTORY = Path("routellm") / "mmlu"
SOURCE = "routellm/mmlu"
TASK_TYPE = "reasoning"
_PREFIX = "mmlu_"


def subject_files(data_dir: Path) -> list[Path]:
    return sorted((Path(data_dir) / DIRECTORY).glob(f"{_PREFIX}*.csv"))


def import_mmlu(data_dir: Path) -> list[DatasetRecord]:
    files = subject_files(data_dir)
    if not files:
        raise DatasetError(Path(data_dir) / DIRECTORY, f"no {_PREFIX}<subject>.csv files")
    records: list[DatasetRecord] = []
    for path in files:
        records.extend(_subject(path))
    return records


def _subject(path: Path) -> list[DatasetRecord]:
    subject = path.stem.removeprefix(_PREFIX)
    records = []
    models: list[str] = []
    for index, (line, row, header) in enumerate(csv_rows(path)):
        if index == 0:
            require_columns(path, header, ["prompt"])
            models = [c for c in header if c != "prompt"]
            if not models:
                raise DatasetError(path, "no model correctness columns", line=1)
        prompt = row.get("prompt") or ""
        if not prompt.strip():
            raise DatasetError(path, "empty prompt", line=line, field="prompt")
        answers = {
            model: ModelAnswer(
                quality=parse_bool_label(path, line, model, row.get(model) or ""),
                input_tokens=estimate_tokens(prompt),
                output_tokens=1,
                tokens_estimated=True,
            )
            for model in models
        }
        records.append(
            DatasetRecord(
                id=f"mmlu/{subject}/{index:04d}",
                messages=user_turn(prompt),
                task_type=TASK_TYPE,
                answers=answers,
                metadata={"source": SOURCE, "subject": subject},
            )
        )
    if not records:
        raise DatasetError(path, "the file holds no rows")
    return records
