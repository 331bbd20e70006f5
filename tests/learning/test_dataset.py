"""The labelled-dataset format: the loader and the JSON Schema agree, bad lines name
file, line and field."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from switchyard.learning.dataset import (
    DatasetError,
    ModelAnswer,
    cost_micros_for,
    load_dataset,
    quality_from_judge,
    write_dataset,
)

SCHEMA = json.loads(
    resources.files("switchyard.learning").joinpath("dataset.schema.json").read_text()
)


def _record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "r1",
        "messages": [{"role": "user", "content": "What is 2 + 2?"}],
        "task_type": "math",
        "answers": {
            "small": {"answer": "4", "quality": 1.0, "input_tokens": 8, "output_tokens": 1},
            "large": {"quality": 0.5, "input_tokens": 8, "output_tokens": 3, "cost_micros": 7},
        },
    }
    record.update(overrides)
    return record


def _write(tmp_path: Path, *records: dict[str, Any]) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_valid_record_loads_and_passes_the_schema(tmp_path: Path) -> None:
    """A well-formed line is accepted by both the loader and the published schema."""
    record = _record(tenant="acme", tier="pro", metadata={"source": "logs"})
    jsonschema.validate(record, SCHEMA)
    [loaded] = load_dataset(_write(tmp_path, record))
    assert loaded.prompt == "What is 2 + 2?"
    assert loaded.answers["large"].cost_micros == 7
    assert loaded.answers["small"].acceptable and loaded.answers["large"].acceptable
    assert loaded.tenant == "acme"


def test_round_trip_through_write(tmp_path: Path) -> None:
    """write_dataset writes what load_dataset reads back unchanged."""
    records = load_dataset(_write(tmp_path, _record(), _record(id="r2")))
    out = tmp_path / "copy.jsonl"
    assert write_dataset(out, records) == 2
    assert load_dataset(out) == records
    for line in out.read_text().splitlines():
        jsonschema.validate(json.loads(line), SCHEMA)


BAD = [
    ("id", lambda r: r.pop("id")),
    ("messages", lambda r: r.update(messages=[])),
    ("messages[0].role", lambda r: r["messages"][0].update(role="robot")),
    ("task_type", lambda r: r.update(task_type="poetry")),
    ("answers.small.quality", lambda r: r["answers"]["small"].update(quality=1.5)),
    ("answers.small.quality", lambda r: r["answers"]["small"].pop("quality")),
    ("answers.small.input_tokens", lambda r: r["answers"]["small"].update(input_tokens="8")),
    ("answers.large.cost_micros", lambda r: r["answers"]["large"].update(cost_micros=-1)),
    ("answers", lambda r: r.update(answers={})),
    ("metadata", lambda r: r.update(metadata={"n": 3})),
    ("colour", lambda r: r.update(colour="red")),
]


@pytest.mark.parametrize(("field", "breaks"), BAD, ids=[f for f, _ in BAD])
def test_bad_line_names_file_line_and_field(tmp_path: Path, field: str, breaks: Any) -> None:
    """Each kind of bad line is refused by the loader with file:line: field, and by the
    schema, so the two never disagree."""
    bad = _record(id="r2")
    breaks(bad)
    path = _write(tmp_path, _record(), bad)
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    assert str(caught.value).startswith(f"{path}:2: {field}:")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_unknown_model_and_duplicate_id_and_empty_file(tmp_path: Path) -> None:
    """Models outside the known set, repeated ids and an empty file are refused."""
    path = _write(tmp_path, _record())
    with pytest.raises(DatasetError, match=r":1: answers.large: unknown model"):
        load_dataset(path, known_models={"small"})
    with pytest.raises(DatasetError, match=r":2: id: duplicate id 'r1'"):
        load_dataset(_write(tmp_path, _record(), _record()))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DatasetError, match="holds no records"):
        load_dataset(empty)


def test_label_mappings_and_derived_cost() -> None:
    """Judge scores map 1..10 onto 0..1; a missing cost comes from prices, rounded up."""
    assert quality_from_judge(1) == 0.0
    assert quality_from_judge(10) == 1.0
    assert quality_from_judge(5.5) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        quality_from_judge(11)
    answer = ModelAnswer(quality=1.0, input_tokens=1000, output_tokens=10)
    # 1000 * 150 + 10 * 600 = 156,000 µUSD·tok / 1e6 -> 0.156 -> rounds up to 1
    assert cost_micros_for(answer, input_micros_per_mtok=150, output_micros_per_mtok=600) == 1
    priced = ModelAnswer(quality=1.0, input_tokens=1, output_tokens=1, cost_micros=42)
    assert cost_micros_for(priced, input_micros_per_mtok=10**9, output_micros_per_mtok=0) == 42
