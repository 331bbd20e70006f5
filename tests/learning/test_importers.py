"""Importers on tiny slices of the shared data (tests/learning/fixtures, same layout):
the records they build, their labels, tokens and costs, and that every record passes
the published JSON Schema."""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from switchyard.learning.dataset import (
    DatasetError,
    DatasetRecord,
    load_dataset,
    quality_from_judge,
    write_dataset,
)
from switchyard.learning.importers import (
    BUILT_IN,
    import_gsm8k,
    import_mmlu,
    import_mt_bench,
    import_routerarena,
)
from switchyard.learning.importers.mt_bench import first_turn_answer
from switchyard.learning.importers.routerarena import arena_task_type
from switchyard.tasks import estimate_tokens

FIXTURES = Path(__file__).parent / "fixtures"
WEAK, STRONG = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
HAIKU, FLASH = "claude-3-haiku-20240307", "gemini-2.0-flash-001"
SCHEMA = json.loads(
    resources.files("switchyard.learning").joinpath("dataset.schema.json").read_text()
)


def qualities(records: list[DatasetRecord], model: str) -> list[float]:
    return [r.answers[model].quality for r in records]


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_every_import_passes_the_schema_and_round_trips(name: str, tmp_path: Path) -> None:
    """Each importer's records validate against dataset.schema.json, survive
    write_dataset/load_dataset unchanged, and get the same ids on a second run."""
    records = BUILT_IN[name](FIXTURES)
    for record in records:
        jsonschema.validate(record.to_json(), SCHEMA)
    out = tmp_path / f"{name}.jsonl"
    write_dataset(out, records)
    assert load_dataset(out) == records
    assert [r.id for r in BUILT_IN[name](FIXTURES)] == [r.id for r in records]


def test_gsm8k_answers_labels_and_estimated_tokens() -> None:
    """Three rows become three math records with both models' stripped answers, True/False
    as 1/0, and token counts estimated from the texts and flagged."""
    records = import_gsm8k(FIXTURES)
    assert [r.id for r in records] == ["gsm8k/00000", "gsm8k/00001", "gsm8k/00002"]
    assert {r.task_type for r in records} == {"math"}
    assert qualities(records, WEAK) == [1.0, 0.0, 0.0]
    assert qualities(records, STRONG) == [1.0, 0.0, 1.0]
    with (FIXTURES / "routellm/gsm8k/gsm8k_responses.csv").open(newline="") as handle:
        row = next(csv.DictReader(handle))
    first = records[0]
    assert first.prompt == row["prompt"]
    weak = first.answers[WEAK]
    assert weak.answer == row[f"{WEAK}_response"].strip() and not weak.answer.startswith(" ")
    assert weak.input_tokens == estimate_tokens(row["prompt"])
    assert weak.output_tokens == estimate_tokens(weak.answer)
    assert weak.tokens_estimated and weak.cost_micros is None


def test_mmlu_reads_every_subject_file() -> None:
    """Both subject files are read, the subject is in metadata, every record is
    `reasoning` with labels only (no answer text, one estimated output token)."""
    records = import_mmlu(FIXTURES)
    assert len(records) == 6
    assert [r.metadata["subject"] for r in records] == ["abstract_algebra"] * 2 + ["anatomy"] * 4
    assert records[0].id == "mmlu/abstract_algebra/0000"
    assert records[-1].id == "mmlu/anatomy/0003"
    assert {r.task_type for r in records} == {"reasoning"}
    assert qualities(records, WEAK) == [1, 0, 1, 1, 1, 0]
    assert qualities(records, STRONG) == [1, 0, 1, 1, 1, 1]
    answer = records[0].answers[STRONG]
    assert answer.answer is None and answer.output_tokens == 1 and answer.tokens_estimated


def test_mt_bench_one_record_per_question_with_mean_judge_score() -> None:
    """A record per question: the first turn as the prompt, the mean of both turns'
    judge scores mapped onto 0..1, the first-turn answer, the category's task type."""
    records = import_mt_bench(FIXTURES)
    assert [r.id for r in records] == ["mt-bench/81", "mt-bench/111"]
    writing, maths = records
    assert (writing.task_type, maths.task_type) == ("chat", "math")
    # Question 81: GPT-4 10 and 10, Mixtral 10 and 9; question 111: GPT-4 2 and 1, Mixtral 1, 1.
    assert writing.answers[STRONG].quality == 1.0
    assert writing.answers[WEAK].quality == pytest.approx(8.5 / 9)
    assert maths.answers[STRONG].quality == pytest.approx(0.5 / 9)
    assert maths.answers[WEAK].quality == 0.0
    assert writing.metadata["judge.mistralai/Mixtral-8x7B-Instruct-v0.1.turn_2"] == "9"
    assert writing.metadata["turn_2"].startswith("Rewrite your previous response")
    assert writing.prompt.startswith("Compose an engaging travel blog post")
    answer = writing.answers[STRONG].answer
    assert answer and "[The End of Assistant's Answer]" not in answer
    assert writing.answers[STRONG].tokens_estimated


def test_mt_bench_answer_cut_from_the_judge_prompt() -> None:
    """The answer is the text between the single-turn judge prompt's markers, or None."""
    prompt = (
        "[Question]\nQ?\n\n[The Start of Assistant's Answer]\nIt is 4.\n"
        "[The End of Assistant's Answer]"
    )
    assert first_turn_answer(prompt) == "It is 4."
    assert first_turn_answer("<|The Start of Assistant A's Conversation with User|>") is None


def test_routerarena_real_tokens_costs_and_clamped_scores() -> None:
    """Rows are joined across the model files: real token counts, the recorded USD cost in
    micro-USD rounded up, scores clamped into 0..1, task type from the slice name."""
    records = import_routerarena(FIXTURES)
    by_id = {r.id: r for r in records}
    assert list(by_id) == [
        "routerarena/AIME_112",
        "routerarena/MMLU_formal_logic_16",
        "routerarena/MMLU_formal_logic_116",
        "routerarena/NarrativeQA_4102",
    ]
    aime = by_id["routerarena/AIME_112"]
    haiku = aime.answers[HAIKU]
    # 349 in, 120 out at $0.25 / $1.25 per Mtok = $0.00023725 = 237.25 µUSD -> 238.
    assert (haiku.input_tokens, haiku.output_tokens, haiku.cost_micros) == (349, 120, 238)
    assert not haiku.tokens_estimated and haiku.answer
    assert aime.answers[FLASH].cost_micros == 304  # $0.000304 exactly
    assert [r.task_type for r in records] == ["math", "chat", "chat", "summarization"]
    assert aime.metadata == {"source": "routerarena", "slice": "AIME", "metric": "math_metric"}
    # NarrativeQA_4102: Haiku's METEOR score is -0.033, clamped to 0.
    assert by_id["routerarena/NarrativeQA_4102"].answers[HAIKU].quality == 0.0
    assert qualities(records, HAIKU) == [0.0, 1.0, 0.0, 0.0]
    assert qualities(records, FLASH)[:3] == [0.0, 0.0, 1.0]


def test_routerarena_cost_falls_back_to_prices(tmp_path: Path) -> None:
    """Without inference_cost the cost is the tokens at cost.json prices; without prices
    too it is left out (to be derived from registry prices)."""
    folder = tmp_path / "routerarena"
    folder.mkdir()
    for model in (HAIKU, FLASH):
        lines = (FIXTURES / "routerarena" / f"{model}.jsonl").read_text().splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        for row in rows:
            del row["evaluation_result"]["inference_cost"]
        (folder / f"{model}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    prices = {"input_token_price_per_million": 0.25, "output_token_price_per_million": 1.25}
    (folder / "cost.json").write_text(json.dumps({HAIKU: prices}))
    aime = import_routerarena(tmp_path)[0]
    assert aime.answers[HAIKU].cost_micros == 238  # ceil(349 * 0.25 + 120 * 1.25)
    assert aime.answers[FLASH].cost_micros is None


def test_arena_task_type_is_shared_with_the_verifier_training() -> None:
    """The scorer's training imports the very same mapping (moved, not copied)."""
    from switchyard.checks import training

    assert training.arena_task_type is arena_task_type
    assert arena_task_type("LiveCodeBench_3") == "code_generation"
    assert arena_task_type("MMLUPro_math_2") == "math"
    assert arena_task_type("WMT19-de-en_1") == "summarization"
    assert arena_task_type("MMLUPro_computer science_12") == "chat"


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_missing_data_names_the_path(name: str, tmp_path: Path) -> None:
    """An empty data folder is a DatasetError naming what was looked for."""
    with pytest.raises(DatasetError, match=str(tmp_path)):
        BUILT_IN[name](tmp_path)


def test_bad_cells_name_file_line_and_column(tmp_path: Path) -> None:
    """A correctness cell that is not True/False names the file, its line and column."""
    path = tmp_path / "routellm" / "gsm8k" / "gsm8k_responses.csv"
    path.parent.mkdir(parents=True)
    path.write_text(f'prompt,{WEAK},{WEAK}_response\n"Two\nlines",True,"fine"\nThird,maybe,x\n')
    with pytest.raises(DatasetError, match=rf"gsm8k_responses\.csv:4: {WEAK}: .*'maybe'"):
        import_gsm8k(tmp_path)


def test_mt_bench_score_out_of_range(tmp_path: Path) -> None:
    """A judge score outside 1..10 is refused with file, line and field."""
    folder = tmp_path / "routellm" / "mt_bench"
    folder.mkdir(parents=True)
    (folder / "question.jsonl").write_text(
        json.dumps({"question_id": 1, "category": "math", "turns": ["1+1?", "And 2+2?"]}) + "\n"
    )
    judgement = {"question_id": 1, "model": "m", "turn": 1, "score": 11, "user_prompt": ""}
    (folder / "judgements.jsonl").write_text(json.dumps(judgement) + "\n")
    with pytest.raises(DatasetError, match=r"judgements\.jsonl:1: score: 11 outside 1\.\.10"):
        import_mt_bench(tmp_path)
    judgement["score"] = 10
    (folder / "judgements.jsonl").write_text(json.dumps(judgement) + "\n")
    [record] = import_mt_bench(tmp_path)
    assert record.answers["m"].quality == quality_from_judge(10) == 1.0
    assert record.answers["m"].answer is None and record.answers["m"].output_tokens == 0
