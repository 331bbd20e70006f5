"""RouteLLM's MT Bench judgements: 80 two-turn questions, GPT-4 judge scores 1-10.

One record per question, not per turn: the router picks a model for the first turn and
that model carries the conversation, which is how RouteLLM scores MT Bench. So:

- messages: the first user turn (what a router sees and what replay keys on); the
  second turn is kept in metadata `turn_2`;
- quality: the mean of the model's two judge scores, mapped 1 -> 0.0, 10 -> 1.0
  (`quality_from_judge`); the raw scores are in metadata `judge.<model>.turn_<n>`;
- answer: the model's first-turn answer, cut out of the single-turn judge prompt;
- tokens: estimated from the first turn and that answer, flagged `tokens_estimated`;
- task type from the MT Bench category (`CATEGORY_TASK_TYPES`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from switchyard.learning.dataset import DatasetError, DatasetRecord, quality_from_judge
from switchyard.learning.importers.common import estimated_answer, jsonl_rows, user_turn

DIRECTORY = Path("routellm") / "mt_bench"
SOURCE = "routellm/mt_bench"
CATEGORY_TASK_TYPES = {
    "writing": "chat",
    "roleplay": "chat",
    "humanities": "chat",
    "stem": "chat",
    "reasoning": "reasoning",
    "math": "math",
    "coding": "code_generation",
    "extraction": "extraction",
}
_ANSWER_START = "[The Start of Assistant's Answer]\n"
_ANSWER_END = "\n[The End of Assistant's Answer]"


def _field(path: Path, line: int, obj: dict[str, Any], key: str, kind: Any) -> Any:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise DatasetError(path, f"missing or ill-typed ({value!r})", line=line, field=key)
    return value


def first_turn_answer(judge_prompt: str) -> str | None:
    """The assistant's answer inside a single-turn judge prompt, if it has that shape."""
    start = judge_prompt.find(_ANSWER_START)
    end = judge_prompt.rfind(_ANSWER_END)
    if start < 0 or end < start:
        return None
    return judge_prompt[start + len(_ANSWER_START) : end].strip() or None


def import_mt_bench(data_dir: Path) -> list[DatasetRecord]:
    directory = Path(data_dir) / DIRECTORY
    questions_path = directory / "question.jsonl"
    questions: dict[int, tuple[str, list[str]]] = {}
    for line, obj in jsonl_rows(questions_path):
        qid = _field(questions_path, line, obj, "question_id", int)
        category = _field(questions_path, line, obj, "category", str)
        if category not in CATEGORY_TASK_TYPES:
            raise DatasetError(
                questions_path,
                f"unknown category {category!r} (known: {', '.join(CATEGORY_TASK_TYPES)})",
                line=line,
                field="category",
            )
        turns = _field(questions_path, line, obj, "turns", list)
        if not turns or not all(isinstance(t, str) and t.strip() for t in turns):
            raise DatasetError(
                questions_path, "must be non-empty strings", line=line, field="turns"
            )
        questions[qid] = (category, turns)

    judgements_path = directory / "judgements.jsonl"
    scores: dict[int, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    answers: dict[tuple[int, str], str] = {}
    for line, obj in jsonl_rows(judgements_path):
        qid = _field(judgements_path, line, obj, "question_id", int)
        if qid not in questions:
            raise DatasetError(
                judgements_path,
                f"no question {qid} in question.jsonl",
                line=line,
                field="question_id",
            )
        model = _field(judgements_path, line, obj, "model", str)
        turn = _field(judgements_path, line, obj, "turn", int)
        score = _field(judgements_path, line, obj, "score", int | float)
        if not math.isfinite(score) or not 1 <= score <= 10:
            raise DatasetError(judgements_path, f"{score} outside 1..10", line=line, field="score")
        scores[qid][model][turn] = float(score)
        if turn == 1:
            text = first_turn_answer(str(obj.get("user_prompt") or ""))
            if text:
                answers[(qid, model)] = text

    records = []
    for qid in sorted(scores):
        category, turns = questions[qid]
        metadata = {"source": SOURCE, "question_id": str(qid), "category": category}
        if len(turns) > 1:
            metadata["turn_2"] = turns[1]
        by_model = {}
        for model, per_turn in scores[qid].items():
            mean = sum(per_turn.values()) / len(per_turn)
            for turn, score in sorted(per_turn.items()):
                metadata[f"judge.{model}.turn_{turn}"] = f"{score:g}"
            by_model[model] = estimated_answer(
                turns[0], quality_from_judge(mean), answers.get((qid, model))
            )
        records.append(
            DatasetRecord(
                id=f"mt-bench/{qid}",
                messages=user_turn(turns[0]),
                task_type=CATEGORY_TASK_TYPES[category],
                answers=by_model,
                metadata=metadata,
            )
        )
    if not records:
        raise DatasetError(judgements_path, "the file holds no judgements")
    return records
