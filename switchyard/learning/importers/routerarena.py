"""RouterArena: the same 809 prompts answered by each model, with real token counts.

`routerarena/<model>.jsonl` holds, per prompt, `global_index` (`<slice>_<n>`),
`question`, `generated_answer`, `token_usage` {`input_tokens`, `output_tokens`} and
`evaluation_result` {`score` 0-1, `metric`, `inference_cost` USD}. Every `*.jsonl` in
the folder is a model; rows are joined on `global_index` into one record per prompt.

- quality: the recorded score, clamped into [0, 1] (a METEOR score can dip just
  below 0);
- cost: `inference_cost` in micro-USD (rounded up); when it is missing, the token
  counts at the `cost.json` prices; absent when neither is there;
- task type from the slice name (`arena_task_type`), the same mapping the verifier's
  scorer is trained with.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from switchyard.learning.dataset import DatasetError, DatasetRecord, Message, ModelAnswer
from switchyard.learning.importers.common import jsonl_rows
from switchyard.learning.prices import TokenPrices, load_prices, usd_to_micros

DIRECTORY = Path("routerarena")
PRICES_FILE = "cost.json"
SOURCE = "routerarena"
_MATH_SLICES = frozenset({"AIME", "MATH", "MathQA", "AsDiv", "FinQA", "MMLUPro_math"})


def arena_slice(global_index: str) -> str:
    """`MMLUPro_computer science_12` -> `MMLUPro_computer science`."""
    return global_index.rsplit("_", 1)[0]


def arena_task_type(global_index: str) -> str:
    """Coarse task type from the RouterArena slice name (its global_index prefix):
    LiveCodeBench -> code_generation; AIME, MATH, MathQA, AsDiv, FinQA, MMLUPro_math ->
    math; WMT19 translation and NarrativeQA -> summarization; everything else -> chat."""
    prefix = arena_slice(global_index)
    if prefix.startswith("LiveCodeBench"):
        return "code_generation"
    if prefix in _MATH_SLICES:
        return "math"
    if prefix.startswith("WMT19") or prefix == "NarrativeQA":
        return "summarization"
    return "chat"


def import_routerarena(data_dir: Path) -> list[DatasetRecord]:
    directory = Path(data_dir) / DIRECTORY
    files = sorted(directory.glob("*.jsonl"))
    if not files:
        raise DatasetError(directory, "no <model>.jsonl files")
    prices_path = directory / PRICES_FILE
    prices = load_prices(prices_path) if prices_path.exists() else {}
    prompts: dict[str, str] = {}
    answers: dict[str, dict[str, ModelAnswer]] = {}
    metrics: dict[str, str] = {}
    for path in files:
        model = path.stem
        for line, row in jsonl_rows(path):
            index = _string(path, line, row, "global_index")
            question = _string(path, line, row, "question")
            known = prompts.setdefault(index, question)
            if known != question:
                raise DatasetError(
                    path,
                    f"{index} has a different question than in another model's file",
                    line=line,
                    field="question",
                )
            answers.setdefault(index, {})[model] = _answer(path, line, row, prices.get(model))
            metric = row["evaluation_result"].get("metric")
            if isinstance(metric, str) and metric:
                metrics.setdefault(index, metric)
    return [
        DatasetRecord(
            id=f"routerarena/{index}",
            messages=(Message("user", prompts[index]),),
            task_type=arena_task_type(index),
            answers=answers[index],
            metadata={"source": SOURCE, "slice": arena_slice(index)}
            | ({"metric": metrics[index]} if index in metrics else {}),
        )
        for index in sorted(prompts, key=_index_order)
    ]


def _index_order(index: str) -> tuple[str, int, str]:
    prefix, _, number = index.rpartition("_")
    return (prefix, int(number), "") if number.isdigit() else (index, 0, index)


def _string(path: Path, line: int, row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(path, f"must be a non-empty string, got {value!r}", line=line, field=key)
    return value


def _count(path: Path, line: int, usage: dict[str, Any], key: str) -> int:
    value = usage.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DatasetError(
            path, f"must be an integer >= 0, got {value!r}", line=line, field=f"token_usage.{key}"
        )
    return value


def _answer(path: Path, line: int, row: dict[str, Any], prices: TokenPrices | None) -> ModelAnswer:
    evaluation = row.get("evaluation_result")
    if not isinstance(evaluation, dict):
        raise DatasetError(path, "missing (an object)", line=line, field="evaluation_result")
    score = evaluation.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float) or score != score:
        raise DatasetError(
            path, f"must be a number, got {score!r}", line=line, field="evaluation_result.score"
        )
    usage = row.get("token_usage")
    if not isinstance(usage, dict):
        raise DatasetError(path, "missing (an object)", line=line, field="token_usage")
    text = row.get("generated_answer")
    answer = ModelAnswer(
        quality=min(1.0, max(0.0, float(score))),
        input_tokens=_count(path, line, usage, "input_tokens"),
        output_tokens=_count(path, line, usage, "output_tokens"),
        answer=text if isinstance(text, str) and text else None,
    )
    cost = evaluation.get("inference_cost")
    if isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0:
        return replace(answer, cost_micros=usd_to_micros(cost))
    if prices is not None:
        return replace(answer, cost_micros=prices.cost_micros(answer))
    return answer
