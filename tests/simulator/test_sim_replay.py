"""Replay mode: recorded answers served for dataset prompts, synthetic ones otherwise."""

from __future__ import annotations

import asyncio
import csv
import json
import random
from pathlib import Path

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.simulator.config import DEFAULT_DATA_DIR
from services.simulator.engine import ChatCall, SimulatedModel
from services.simulator.models import ModelProfile
from services.simulator.replay import (
    GSM8K_FILE,
    ReplayIndex,
    load_gsm8k,
    load_replay,
    load_routerarena,
    normalise_prompt,
)
from switchyard.runtime.errors import StartupError
from tests.simulator.helpers import launch, wait_for_port

WEAK, STRONG = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
PROMPT = "Janet’s ducks lay 16 eggs per day. How much does she make?"


@pytest.fixture
def gsm8k_csv(tmp_path: Path) -> Path:
    path = tmp_path / "gsm8k.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt", WEAK, STRONG, f"{WEAK}_response", f"{STRONG}_response"])
        writer.writerow(
            [PROMPT, "False", "True", " She makes $20.\n#### 20", "She makes $18.\n#### 18"]
        )
        writer.writerow(["What is 2+2?", "True", "True", "4\n#### 4", "2 + 2 = 4\n#### 4"])
    return path


@pytest.fixture
def arena_dir(tmp_path: Path) -> Path:
    for model, answer in (("claude-3-haiku-20240307", "\\boxed{A}"), ("gemini-2.0-flash-001", "B")):
        row = {
            "global_index": "MMLU_1",
            "question": "Which letter comes first?\n(A) a (B) b",
            "generated_answer": answer,
            "token_usage": {"input_tokens": 31, "output_tokens": 7, "total_tokens": 38},
        }
        (tmp_path / f"{model}.jsonl").write_text(json.dumps(row) + "\n\n")
    return tmp_path


def replaying(index: ReplayIndex, dataset_model: str | None, **settings: object) -> SimulatedModel:
    replay = {index.dataset: dataset_model} if dataset_model else {}
    profile = ModelProfile(name="m", replay=replay, **settings)  # type: ignore[arg-type]
    return SimulatedModel(profile, random.Random(0), index)


def ask(prompt: str, **kw: object) -> ChatCall:
    return ChatCall(model="m", messages=(("system", "Solve it."), ("user", prompt)), **kw)  # type: ignore[arg-type]


@given(st.text(min_size=1, max_size=60), st.sampled_from(["  ", "\n", "\t "]))
def test_normalisation_ignores_case_and_spacing(text: str, gap: str) -> None:
    """Extra whitespace and letter case never change the normalised prompt."""
    variant = gap + gap.join(text.upper().split()) + gap
    assert normalise_prompt(variant) == normalise_prompt(text.upper())
    assert normalise_prompt("Janet’s  DUCKS") == normalise_prompt("janet's ducks")


def test_gsm8k_recorded_answers_per_model(gsm8k_csv: Path) -> None:
    """Each simulated model serves its own dataset model's recorded text for a known prompt."""
    index = load_gsm8k(gsm8k_csv)
    assert index.models == (WEAK, STRONG)
    weak, strong = replaying(index, WEAK), replaying(index, STRONG)
    assert weak.respond(
        ask("janet's ducks lay 16 eggs per day.  How much does she make?")
    ).text == ("She makes $20.\n#### 20")
    assert strong.respond(ask(PROMPT)).text == "She makes $18.\n#### 18"
    assert strong.counters["replayed"] == 1


def test_unmatched_or_unmapped_falls_back_to_synthetic(gsm8k_csv: Path) -> None:
    """An unknown prompt, or a model with no mapping, gets a synthetic answer."""
    index = load_gsm8k(gsm8k_csv)
    reply = replaying(index, STRONG, quality=1.0).respond(ask("Explain the Raft protocol"))
    assert "Raft protocol" in reply.text
    unmapped = replaying(index, None, quality=1.0)
    assert "####" not in unmapped.respond(ask(PROMPT)).text
    assert unmapped.counters["replayed"] == 0


def test_routerarena_uses_real_token_counts(arena_dir: Path) -> None:
    """RouterArena replies carry the recorded input and output token counts."""
    index = load_routerarena(arena_dir)
    reply = replaying(index, "gemini-2.0-flash-001").respond(
        ask("Which letter comes first? (A) a (B) b")
    )
    assert (reply.text, reply.prompt_tokens, reply.completion_tokens) == ("B", 31, 7)


def test_replayed_answers_still_obey_max_tokens_and_faults(gsm8k_csv: Path) -> None:
    """A recorded answer longer than max_tokens is cut; error faults still apply."""
    index = load_gsm8k(gsm8k_csv)
    reply = replaying(index, STRONG).respond(ask(PROMPT, max_tokens=2))
    assert (reply.text, reply.finish_reason) == ("She make", "length")
    assert replaying(index, STRONG, error_rate=1.0).respond(ask(PROMPT)).status == 503


def test_mapping_must_name_a_dataset_model(gsm8k_csv: Path) -> None:
    """A replay mapping to a model the dataset lacks is a startup error naming the field."""
    index = load_gsm8k(gsm8k_csv)
    profiles = {"small": ModelProfile(name="small", replay={"gsm8k": "llama-7b"})}
    with pytest.raises(StartupError, match=r"models\.small\.replay\.gsm8k"):
        index.check_mapping(profiles)


def test_missing_data_is_startup_error(tmp_path: Path) -> None:
    """A data folder without the dataset files is a StartupError naming the path."""
    for dataset in ("gsm8k", "routerarena"):
        with pytest.raises(StartupError, match=dataset):
            load_replay(dataset, tmp_path)


REAL_GSM8K = Path(DEFAULT_DATA_DIR) / GSM8K_FILE


@pytest.mark.skipif(not REAL_GSM8K.exists(), reason="shared data folder not present")
async def test_process_replays_real_gsm8k(tmp_path: Path) -> None:
    """`--replay gsm8k` with the example fleet: small answers as Mixtral, large as GPT-4."""
    with REAL_GSM8K.open(newline="") as handle:
        row = next(csv.DictReader(handle))
    port_file = tmp_path / "port"
    proc = launch(
        "--port", "0", "--port-file", str(port_file), "--replay", "gsm8k", "--seed", "1",
        "--models-file", "examples/simulator.yaml",
    )  # fmt: skip
    try:
        port = await wait_for_port(port_file, proc)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        async with aiohttp.ClientSession() as http:
            await http.put(
                f"http://127.0.0.1:{port}/admin/models/small/faults", json={"error_rate": 0}
            )
            await http.put(
                f"http://127.0.0.1:{port}/admin/models/large/faults", json={"error_rate": 0}
            )
            texts = {}
            for model in ("small", "large"):
                body = {"model": model, "messages": [{"role": "user", "content": row["prompt"]}]}
                async with http.post(url, json={**body, "max_tokens": 4096}) as r:
                    texts[model] = (await r.json())["choices"][0]["message"]["content"]
        assert texts["small"] == row[f"{WEAK}_response"].strip()
        assert texts["large"] == row[f"{STRONG}_response"].strip()
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 10)
