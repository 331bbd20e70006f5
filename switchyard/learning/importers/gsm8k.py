"""RouteLLM's GSM8K responses: 1,319 grade-school maths prompts, two models.

Columns: `prompt`; per model a `True`/`False` correctness column named by the model
and a `<model>_response` column with its full answer. Models are read from the header
(every `<model>_response` column with a matching correctness column), so a file with
more models imports the same way. No token counts are recorded: they are estimated
from the texts (~4 characters per token) and flagged `tokens_estimated`. Answers are
stripped of surrounding whitespace (Mixtral's all start with a space).
"""

from __future__ import annotations

from pathlib import Path

from switchyard.learning.dataset import DatasetError, DatasetRecord
from switchyard.learning.importers.common import (
    csv_rows,
    estimated_answer,
    parse_bool_label,
    require_columns,
    user_turn,
)

FILE = Path("routellm") / "gsm8k" / "gsm8k_responses.csv"
SOURCE = "routellm/gsm8k"
TASK_TYPE = "math"
_RESPONSE = "_response"


def import_gsm8k(data_dir: Path) -> list[DatasetRecord]:
    path = Path(data_dir) / FILE
    records: list[DatasetRecord] = []
    models: list[str] = []
    for index, (line, row, header) in enumerate(csv_rows(path)):
        if index == 0:
            models = [c.removesuffix(_RESPONSE) for c in header if c.endswith(_RESPONSE)]
            if not models:
                raise DatasetError(path, "no <model>_response columns", line=1)
            require_columns(path, header, ["prompt", *models])
        prompt = row.get("prompt") or ""
        if not prompt.strip():
            raise DatasetError(path, "empty prompt", line=line, field="prompt")
        answers = {}
        for model in models:
            text = (row.get(f"{model}{_RESPONSE}") or "").strip() or None
            quality = parse_bool_label(path, line, model, row.get(model) or "")
            answers[model] = estimated_answer(prompt, quality, text)
        records.append(
            DatasetRecord(
                id=f"gsm8k/{index:05d}",
                messages=user_turn(prompt),
                task_type=TASK_TYPE,
                answers=answers,
                metadata={"source": SOURCE},
            )
        )
    if not records:
        raise DatasetError(path, "the file holds no rows")
    return records
