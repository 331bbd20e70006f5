"""The labelled-dataset format: JSONL, one record per prompt (docs/datasets.md).

Every importer writes it, and profiling, training, replay and evaluation read it, so a
team's own logs need one converter, not one per tool. A record holds the prompt (chat
messages), its task type and optional tenant/tier/metadata, and per model that
answered it: the answer text (optional), a quality label in [0, 1], token counts, and
optionally the cost in micro-USD and the latency.

Reading validates every line and refuses the first bad one with the file, line number
and field, so nothing downstream sees a half-understood record.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from switchyard.tasks import TASK_TYPES

FORMAT_VERSION = 1
ROLES = frozenset({"system", "user", "assistant"})


class DatasetError(ValueError):
    """A dataset that cannot be used, with where and what to fix."""

    def __init__(self, path: Path | str, message: str, *, line: int = 0, field: str = "") -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


# -- quality labels ------------------------------------------------------------------


def quality_from_bool(correct: bool) -> float:
    return 1.0 if correct else 0.0


def quality_from_judge(score: float, *, low: float = 1.0, high: float = 10.0) -> float:
    """A 1-10 judge score (MT Bench) maps linearly onto [0, 1]: 1 -> 0.0, 10 -> 1.0."""
    if not low <= score <= high:
        raise ValueError(f"judge score {score} outside {low:g}..{high:g}")
    return (score - low) / (high - low)


def parse_quality(text: str) -> float:
    """A label as teams store it: true/false/yes/no/1/0, or a number in [0, 1]."""
    lowered = text.strip().lower()
    if lowered in {"true", "yes", "correct"}:
        return 1.0
    if lowered in {"false", "no", "incorrect"}:
        return 0.0
    value = float(lowered)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"quality {value} outside 0..1 (map judge scores with --judge-scale)")
    return value


# -- records -------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class ModelAnswer:
    """What one model did with one prompt."""

    quality: float
    input_tokens: int
    output_tokens: int
    answer: str | None = None
    # None: derive from the model's registry prices (`cost_micros_for`).
    cost_micros: int | None = None
    latency_ms: float | None = None
    # True when the token counts are estimates (the source recorded none).
    tokens_estimated: bool = False

    @property
    def acceptable(self) -> bool:
        """Binary view of the label, for classifiers and APGR: at least half marks."""
        return self.quality >= 0.5


@dataclass(frozen=True)
class DatasetRecord:
    id: str
    messages: tuple[Message, ...]
    task_type: str
    answers: Mapping[str, ModelAnswer]
    tenant: str = ""
    tier: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        """The last user turn: what replay keys on and what predictors read."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return self.messages[-1].content

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "messages": [{"role": m.role, "content": m.content} for m in self.messages],
            "task_type": self.task_type,
        }
        if self.tenant:
            out["tenant"] = self.tenant
        if self.tier:
            out["tier"] = self.tier
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        out["answers"] = {model: _answer_json(a) for model, a in self.answers.items()}
        return out


def _answer_json(answer: ModelAnswer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "quality": answer.quality,
        "input_tokens": answer.input_tokens,
        "output_tokens": answer.output_tokens,
    }
    if answer.answer is not None:
        out["answer"] = answer.answer
    if answer.cost_micros is not None:
        out["cost_micros"] = answer.cost_micros
    if answer.latency_ms is not None:
        out["latency_ms"] = answer.latency_ms
    if answer.tokens_estimated:
        out["tokens_estimated"] = True
    return out


# -- reading -------------------------------------------------------------------------


class _Line:
    """Field access on one JSON line that raises DatasetError naming the field."""

    def __init__(self, path: Path, number: int) -> None:
        self.path = path
        self.number = number

    def fail(self, name: str, message: str) -> DatasetError:
        return DatasetError(self.path, message, line=self.number, field=name)

    def string(self, obj: Mapping[str, Any], key: str, name: str, *, required: bool) -> str:
        value = obj.get(key)
        if value is None:
            if required:
                raise self.fail(name, "missing")
            return ""
        if not isinstance(value, str):
            raise self.fail(name, f"must be a string, got {type(value).__name__}")
        if required and not value.strip():
            raise self.fail(name, "must not be empty")
        return value

    def count(self, obj: Mapping[str, Any], key: str, name: str) -> int:
        value = obj.get(key)
        if value is None:
            raise self.fail(name, "missing")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(name, f"must be an integer >= 0, got {value!r}")
        return value

    def number_in(
        self, obj: Mapping[str, Any], key: str, name: str, low: float, high: float
    ) -> float | None:
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, f"must be a number, got {type(value).__name__}")
        if not math.isfinite(value) or not low <= value <= high:
            raise self.fail(name, f"{value} outside {low:g}..{high:g}")
        return float(value)


_RECORD_KEYS = frozenset({"id", "messages", "task_type", "tenant", "tier", "metadata", "answers"})
_ANSWER_KEYS = frozenset(
    {
        "answer",
        "quality",
        "input_tokens",
        "output_tokens",
        "cost_micros",
        "latency_ms",
        "tokens_estimated",
    }
)


def parse_record(
    obj: Any, line: _Line, *, known_models: frozenset[str] | None = None
) -> DatasetRecord:
    if not isinstance(obj, dict):
        raise line.fail("record", "each line must be a JSON object")
    unknown = sorted(set(obj) - _RECORD_KEYS)
    if unknown:
        raise line.fail(unknown[0], "unknown field (put extra facts in metadata)")
    record_id = line.string(obj, "id", "id", required=True)
    raw_messages = obj.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise line.fail("messages", "must be a non-empty list of {role, content}")
    messages = []
    for i, raw in enumerate(raw_messages):
        name = f"messages[{i}]"
        if not isinstance(raw, dict):
            raise line.fail(name, "must be an object with role and content")
        role = line.string(raw, "role", f"{name}.role", required=True)
        if role not in ROLES:
            raise line.fail(f"{name}.role", f"{role!r} is not one of {', '.join(sorted(ROLES))}")
        messages.append(
            Message(role, line.string(raw, "content", f"{name}.content", required=True))
        )
    task_type = line.string(obj, "task_type", "task_type", required=True)
    if task_type not in TASK_TYPES:
        raise line.fail("task_type", f"{task_type!r} is not one of {', '.join(sorted(TASK_TYPES))}")
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise line.fail("metadata", "must be an object of string values")
    raw_answers = obj.get("answers")
    if not isinstance(raw_answers, dict) or not raw_answers:
        raise line.fail("answers", "must be a non-empty object keyed by model name")
    answers = {}
    for model, raw in raw_answers.items():
        name = f"answers.{model}"
        if not model.strip():
            raise line.fail("answers", "model names must not be empty")
        if known_models is not None and model not in known_models:
            raise line.fail(name, f"unknown model (known: {', '.join(sorted(known_models))})")
        answers[model] = _parse_answer(raw, line, name)
    return DatasetRecord(
        id=record_id,
        messages=tuple(messages),
        task_type=task_type,
        answers=answers,
        tenant=line.string(obj, "tenant", "tenant", required=False),
        tier=line.string(obj, "tier", "tier", required=False),
        metadata=metadata,
    )


def _parse_answer(raw: Any, line: _Line, name: str) -> ModelAnswer:
    if not isinstance(raw, dict):
        raise line.fail(name, "must be an object")
    unknown = sorted(set(raw) - _ANSWER_KEYS)
    if unknown:
        raise line.fail(f"{name}.{unknown[0]}", "unknown field")
    quality = line.number_in(raw, "quality", f"{name}.quality", 0.0, 1.0)
    if quality is None:
        raise line.fail(f"{name}.quality", "missing (a label in 0..1)")
    answer = raw.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise line.fail(f"{name}.answer", "must be a string")
    cost = raw.get("cost_micros")
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int) or cost < 0):
        raise line.fail(f"{name}.cost_micros", f"must be an integer >= 0, got {cost!r}")
    estimated = raw.get("tokens_estimated", False)
    if not isinstance(estimated, bool):
        raise line.fail(f"{name}.tokens_estimated", "must be true or false")
    return ModelAnswer(
        quality=quality,
        input_tokens=line.count(raw, "input_tokens", f"{name}.input_tokens"),
        output_tokens=line.count(raw, "output_tokens", f"{name}.output_tokens"),
        answer=answer,
        cost_micros=cost,
        latency_ms=line.number_in(raw, "latency_ms", f"{name}.latency_ms", 0.0, 1e9),
        tokens_estimated=estimated,
    )


def iter_dataset(
    path: Path | str, *, known_models: Iterable[str] | None = None
) -> Iterator[DatasetRecord]:
    """Records of a dataset file, validated line by line; ids must be unique."""
    path = Path(path)
    known = frozenset(known_models) if known_models is not None else None
    seen: set[str] = set()
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(path, f"cannot read: {exc.strerror or exc}") from exc
    with handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            line = _Line(path, number)
            try:
                obj = json.loads(text)
            except ValueError as exc:
                raise line.fail("record", f"not valid JSON: {exc}") from exc
            record = parse_record(obj, line, known_models=known)
            if record.id in seen:
                raise line.fail("id", f"duplicate id {record.id!r}")
            seen.add(record.id)
            yield record


def load_dataset(
    path: Path | str, *, known_models: Iterable[str] | None = None
) -> list[DatasetRecord]:
    records = list(iter_dataset(path, known_models=known_models))
    if not records:
        raise DatasetError(path, "the dataset holds no records")
    return records


def dataset_models(records: Iterable[DatasetRecord]) -> list[str]:
    """Models in order of first appearance."""
    seen: dict[str, None] = {}
    for record in records:
        for model in record.answers:
            seen.setdefault(model)
    return list(seen)


def write_dataset(path: Path | str, records: Iterable[DatasetRecord]) -> int:
    """Write atomically (temp file, then rename): a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, path)
    return count


def cost_micros_for(
    answer: ModelAnswer, *, input_micros_per_mtok: int, output_micros_per_mtok: int
) -> int:
    """The recorded cost, else the tokens at registry prices (µUSD per million tokens),
    rounded up as the router bills, so a paid call never costs 0."""
    if answer.cost_micros is not None:
        return answer.cost_micros
    total = (
        answer.input_tokens * input_micros_per_mtok + answer.output_tokens * output_micros_per_mtok
    )
    return -(-total // 1_000_000)
