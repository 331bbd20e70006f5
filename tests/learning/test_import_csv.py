"""A team's own CSV into the dataset format: columns named by the caller, labels from
booleans, 0-1 scores or judge scores, costs in USD or micro-USD, and bad cells named by
file, line and column."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from switchyard.learning.dataset import DatasetError
from switchyard.learning.importers import import_csv
from switchyard.tasks import estimate_tokens

SCHEMA = json.loads(
    resources.files("switchyard.learning").joinpath("dataset.schema.json").read_text()
)
LOGS = """\
ticket,kind,small_ok,large_ok,small_text,small_usd,large_usd,small_ms,small_in,small_out,team
T-1,summarization,true,yes,"Export fails
on Safari.",0.00012,0.0021,420,51,9,web
T-2,classification,0,1,billing,0.00001,,180,12,1,
T-3,chat,,0.75,,,0.004,,,,web
"""


def write(tmp_path: Path, text: str, name: str = "logs.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def full_import(path: Path, **overrides: Any):
    options: dict[str, Any] = {
        "prompt_column": "ticket",
        "models": {"small": "small_ok", "large": "large_ok"},
        "answer_columns": {"small": "small_text"},
        "cost_columns": {"small": "small_usd", "large": "large_usd"},
        "latency_columns": {"small": "small_ms"},
        "input_tokens_columns": {"small": "small_in"},
        "output_tokens_columns": {"small": "small_out"},
        "task_type_column": "kind",
        "metadata_columns": ["team"],
    }
    options.update(overrides)
    return import_csv(path, **options)


def test_every_column_kind_lands_in_the_record(tmp_path: Path) -> None:
    """Labels, answer, USD cost, latency, real token counts, task type and metadata; an
    empty label means the model did not answer that row; ids are stem/row."""
    records = full_import(write(tmp_path, LOGS))
    assert [r.id for r in records] == ["logs/00000", "logs/00001", "logs/00002"]
    first, second, third = records
    assert first.task_type == "summarization" and first.metadata == {"team": "web"}
    small = first.answers["small"]
    assert (small.quality, small.answer) == (1.0, "Export fails\non Safari.")
    assert (small.input_tokens, small.output_tokens, small.tokens_estimated) == (51, 9, False)
    assert (small.cost_micros, small.latency_ms) == (120, 420.0)
    large = first.answers["large"]
    assert (large.quality, large.cost_micros) == (1.0, 2100)
    assert large.tokens_estimated and large.input_tokens == estimate_tokens("T-1")
    assert second.answers["small"].quality == 0.0 and second.answers["large"].cost_micros is None
    assert second.metadata == {}
    assert list(third.answers) == ["large"] and third.answers["large"].quality == 0.75
    for record in records:
        jsonschema.validate(record.to_json(), SCHEMA)


def test_ids_tenant_tier_system_and_a_fixed_task_type(tmp_path: Path) -> None:
    """An id column, tenant/tier columns and a system prompt column; one task type for
    every row; micro-USD costs taken as they are."""
    path = write(
        tmp_path,
        "id,sys,q,ok,cost,tenant,tier\nq-9,Be terse.,2+2?,True,17,acme,pro\n",
    )
    [record] = import_csv(
        path,
        prompt_column="q",
        models={"m": "ok"},
        cost_columns={"m": "cost"},
        cost_unit="micros",
        task_type="math",
        id_column="id",
        system_column="sys",
        tenant_column="tenant",
        tier_column="tier",
    )
    assert record.id == "q-9" and record.task_type == "math"
    assert [(m.role, m.content) for m in record.messages] == [
        ("system", "Be terse."),
        ("user", "2+2?"),
    ]
    assert (record.tenant, record.tier, record.answers["m"].cost_micros) == ("acme", "pro", 17)


def test_judge_scale_maps_scores_onto_zero_to_one(tmp_path: Path) -> None:
    """With judge_scale=(1, 10) a 10 is 1.0, a 1 is 0.0 and 5.5 is 0.5; 11 is refused."""
    path = write(tmp_path, "p,score\na,10\nb,1\nc,5.5\n")
    records = import_csv(path, prompt_column="p", models={"m": "score"}, judge_scale=(1, 10))
    assert [r.answers["m"].quality for r in records] == [1.0, 0.0, 0.5]
    bad = write(tmp_path, "p,score\na,11\n", "bad.csv")
    with pytest.raises(DatasetError, match=r"bad\.csv:2: score: judge score 11.0 outside 1\.\.10"):
        import_csv(bad, prompt_column="p", models={"m": "score"}, judge_scale=(1, 10))


@pytest.mark.parametrize(
    ("text", "overrides", "where"),
    [
        # A column the caller named is not in the header.
        ("p,ok\na,true\n", {"models": {"m": "correct"}}, r"x\.csv:1: correct: no such column"),
        # A label that is neither boolean nor in 0..1.
        ("p,ok\na,true\nb,maybe\n", {}, r"x\.csv:3: ok: cannot read 'maybe' as a label"),
        ("p,ok\na,1.5\n", {}, r"x\.csv:2: ok: quality 1.5 outside 0\.\.1"),
        # A row no model answered.
        ("p,ok\na,\n", {}, r"x\.csv:2: ok: no model has a label"),
        # A task type that is not one of the router's.
        ("p,ok,t\na,1,poetry\n", {"task_type_column": "t"}, r"x\.csv:2: t: 'poetry' is not"),
        # The same id twice; the line is the second row's first line.
        ('p,ok,id\n"a\nb",1,k\nc,1,k\n', {"id_column": "id"}, r"x\.csv:4: id: duplicate id"),
        # A cost that is not a number.
        ("p,ok,c\na,1,free\n", {"cost_columns": {"m": "c"}}, r"x\.csv:2: c: must be a number"),
        # An empty prompt.
        ("p,ok\n,1\n", {}, r"x\.csv:2: p: empty prompt"),
    ],
)
def test_bad_input_names_file_line_and_column(
    tmp_path: Path, text: str, overrides: dict[str, Any], where: str
) -> None:
    """Each bad cell is one DatasetError naming the file, the row's line and the column."""
    options: dict[str, Any] = {"prompt_column": "p", "models": {"m": "ok"}, **overrides}
    with pytest.raises(DatasetError, match=where):
        import_csv(write(tmp_path, text, "x.csv"), **options)


def test_mapping_for_an_unnamed_model_is_refused(tmp_path: Path) -> None:
    """A cost column for a model that has no correctness column is a mistake, not ignored."""
    with pytest.raises(DatasetError, match="cost column for 'other'"):
        import_csv(
            write(tmp_path, "p,ok,c\na,1,2\n"),
            prompt_column="p",
            models={"m": "ok"},
            cost_columns={"other": "c"},
        )
