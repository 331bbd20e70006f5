"""Replay mode: recorded answers of any labelled dataset served for its prompts,
synthetic ones otherwise, and the misses counted."""

from __future__ import annotations

import asyncio
import csv
import json
import random
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.simulator.config import DEFAULT_DATA_DIR, SimulatorConfig
from services.simulator.engine import ChatCall, SimulatedModel
from services.simulator.models import ModelProfile
from services.simulator.replay import Replay, dataset_key, load_replay, normalise_prompt
from services.simulator.testing import running_simulator
from switchyard.learning.dataset import DatasetRecord, Message, ModelAnswer, write_dataset
from switchyard.learning.importers.gsm8k import FILE as GSM8K_FILE
from switchyard.runtime.errors import StartupError
from tests.simulator.helpers import REPO, launch, wait_for_port

FIXTURES = REPO / "tests" / "learning" / "fixtures"
WEAK, STRONG = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
HAIKU, FLASH = "claude-3-haiku-20240307", "gemini-2.0-flash-001"
TICKET = "Summarise the customer’s ticket: the export button does nothing on Safari."


def _record(record_id: str, prompt: str, **answers: ModelAnswer) -> DatasetRecord:
    return DatasetRecord(
        id=record_id, messages=(Message("user", prompt),), task_type="chat", answers=answers
    )


def write_support(path: Path) -> Path:
    """A team's own dataset: two models with real token counts, one estimated answer."""
    write_dataset(
        path,
        [
            _record(
                "t1",
                TICKET,
                cheap=ModelAnswer(
                    quality=0.0, input_tokens=41, output_tokens=9, answer="Safari export broken."
                ),
                pricey=ModelAnswer(
                    quality=1.0,
                    input_tokens=38,
                    output_tokens=23,
                    answer="The export button fails silently in Safari; other browsers work.",
                ),
            ),
            _record(
                "t2",
                "Classify: 'I was charged twice this month'",
                cheap=ModelAnswer(
                    quality=1.0,
                    input_tokens=12,
                    output_tokens=2,
                    answer="billing",
                    tokens_estimated=True,
                ),
            ),
        ],
    )
    return path


@pytest.fixture
def support(tmp_path: Path) -> Path:
    return write_support(tmp_path / "support.jsonl")


def replaying(source: Replay, mapping: dict[str, str], **settings: Any) -> SimulatedModel:
    profile = ModelProfile(name="m", replay=mapping, **settings)
    return SimulatedModel(profile, random.Random(0), source)


def ask(prompt: str, **kw: Any) -> ChatCall:
    return ChatCall(model="m", messages=(("system", "Be brief."), ("user", prompt)), **kw)


@given(st.text(min_size=1, max_size=60), st.sampled_from(["  ", "\n", "\t "]))
def test_normalisation_ignores_case_and_spacing(text: str, gap: str) -> None:
    """Extra whitespace and letter case never change the normalised prompt."""
    variant = gap + gap.join(text.upper().split()) + gap
    assert normalise_prompt(variant) == normalise_prompt(text.upper())
    assert normalise_prompt("Janet’s  DUCKS") == normalise_prompt("janet's ducks")


def test_dataset_file_serves_recorded_text_and_tokens(support: Path) -> None:
    """A file's answers are served per mapped dataset model, with the recorded counts."""
    replay = load_replay([str(support)], FIXTURES)
    assert replay.datasets == ("support",)
    pricey = replaying(replay, {"support": "pricey"})
    typed = "summarise the customer's ticket:  the export button does nothing on safari."
    reply = pricey.respond(ask(typed))
    assert reply.text == "The export button fails silently in Safari; other browsers work."
    assert (reply.prompt_tokens, reply.completion_tokens) == (38, 23)
    cheap = replaying(replay, {"support": "cheap"})
    assert cheap.respond(ask(TICKET)).text == "Safari export broken."
    assert pricey.counters["replayed"] == 1 and pricey.counters["replay_misses"] == 0


def test_estimated_counts_are_left_to_the_simulator(support: Path) -> None:
    """Counts the dataset flags as estimates are re-estimated from the actual request."""
    replay = load_replay([str(support)], FIXTURES)
    reply = replaying(replay, {"support": "cheap"}).respond(
        ask("Classify: 'I was charged twice this month'")
    )
    assert reply.text == "billing"
    assert reply.prompt_tokens != 12 and reply.completion_tokens == 2


def test_unknown_prompt_is_synthetic_and_counted(support: Path) -> None:
    """A prompt the dataset lacks (or a model it lacks an answer from) gets a synthetic
    answer and counts as a replay miss; an unmapped model is not a miss."""
    replay = load_replay([str(support)], FIXTURES)
    pricey = replaying(replay, {"support": "pricey"}, quality=1.0)
    reply = pricey.respond(ask("Explain the Raft protocol"))
    assert "Raft protocol" in reply.text
    pricey.respond(ask("Classify: 'I was charged twice this month'"))  # pricey has no answer
    assert (pricey.counters["replayed"], pricey.counters["replay_misses"]) == (0, 2)
    unmapped = replaying(replay, {}, quality=1.0)
    unmapped.respond(ask(TICKET))
    assert unmapped.counters["replay_misses"] == 0 and unmapped.counters["replayed"] == 0


def test_several_files_in_flag_order(support: Path, tmp_path: Path) -> None:
    """Two datasets: each keyed by its stem; a model mapped to both finds a prompt in
    either, the earlier file winning when both hold it."""
    other = tmp_path / "other.jsonl"
    write_dataset(
        other,
        [
            _record(
                "o1",
                TICKET,
                big=ModelAnswer(
                    quality=1, input_tokens=5, output_tokens=5, answer="From the other file."
                ),
            ),
            _record(
                "o2",
                "Only here?",
                big=ModelAnswer(
                    quality=1, input_tokens=3, output_tokens=2, answer="Yes, only here."
                ),
            ),
        ],
    )
    replay = load_replay([str(support), str(other)], FIXTURES)
    assert replay.datasets == ("support", "other")
    both = replaying(replay, {"support": "pricey", "other": "big"})
    assert both.respond(ask(TICKET)).text.startswith("The export button")
    assert both.respond(ask("only here?")).text == "Yes, only here."


def test_built_in_names_are_imports_of_the_shared_data() -> None:
    """`gsm8k` and `routerarena` go through the dataset importers: GSM8K answers are
    stripped texts with estimated counts, RouterArena ones carry the recorded counts."""
    replay = load_replay(["gsm8k", "routerarena"], FIXTURES)
    assert replay.datasets == ("gsm8k", "routerarena")
    with (FIXTURES / GSM8K_FILE).open(newline="") as handle:
        row = next(csv.DictReader(handle))
    strong = replaying(replay, {"gsm8k": STRONG})
    assert strong.respond(ask(row["prompt"])).text == row[f"{STRONG}_response"].strip()
    weak = replaying(replay, {"gsm8k": WEAK})
    assert weak.respond(ask(row["prompt"])).text == row[f"{WEAK}_response"].strip()
    arena = json.loads((FIXTURES / "routerarena" / f"{FLASH}.jsonl").read_text().splitlines()[0])
    reply = replaying(replay, {"routerarena": FLASH}).respond(ask(arena["question"]))
    assert reply.text == arena["generated_answer"]
    usage = arena["token_usage"]
    assert (reply.prompt_tokens, reply.completion_tokens) == (
        usage["input_tokens"],
        usage["output_tokens"],
    )


def test_replayed_answers_still_obey_max_tokens_and_faults(support: Path) -> None:
    """A recorded answer longer than max_tokens is cut; error faults still apply."""
    replay = load_replay([str(support)], FIXTURES)
    reply = replaying(replay, {"support": "pricey"}).respond(ask(TICKET, max_tokens=2))
    assert (reply.text, reply.finish_reason) == ("The expo", "length")
    failing = replaying(replay, {"support": "pricey"}, error_rate=1.0)
    assert failing.respond(ask(TICKET)).status == 503


def test_mapping_must_name_a_dataset_model(support: Path) -> None:
    """A replay mapping to a model the dataset lacks is a startup error naming the field."""
    replay = load_replay([str(support)], FIXTURES)
    profiles = {"small": ModelProfile(name="small", replay={"support": "llama-7b"})}
    with pytest.raises(StartupError, match=r"models\.small\.replay\.support: .*'llama-7b'"):
        replay.check_mapping(profiles)


def test_bad_sources_are_startup_errors(support: Path, tmp_path: Path) -> None:
    """A missing file, a bad line (named by file and line), two datasets with one key and
    a missing shared data folder are one-line StartupErrors."""
    with pytest.raises(StartupError, match=r"nope\.jsonl"):
        load_replay([str(tmp_path / "nope.jsonl")], FIXTURES)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(support.read_text() + '{"id": "x"}\n')
    with pytest.raises(StartupError, match=r"bad\.jsonl:3: messages"):
        load_replay([str(bad)], FIXTURES)
    twin = tmp_path / "twin" / "support.jsonl"
    write_support(twin)
    with pytest.raises(StartupError, match="both called 'support'"):
        load_replay([str(support), str(twin)], FIXTURES)
    for dataset in ("gsm8k", "routerarena"):
        with pytest.raises(StartupError, match=dataset):
            load_replay([dataset], tmp_path)


def test_config_accepts_files_and_built_in_names() -> None:
    """--replay takes files and built-in names (a comma list too); a bare unknown word
    such as `mmlu` (labels only, nothing to replay) is refused."""
    assert SimulatorConfig(replay="a.jsonl,gsm8k").replay == ("a.jsonl", "gsm8k")
    assert dataset_key("logs/support.jsonl") == "support" and dataset_key("gsm8k") == "gsm8k"
    with pytest.raises(StartupError, match="mmlu"):
        SimulatorConfig(replay=("mmlu",))


async def test_admin_endpoint_reports_replay_counters(support: Path) -> None:
    """GET /admin/models names the datasets and totals replayed answers and misses."""
    replay = load_replay([str(support)], FIXTURES)
    models = {"m": {"replay": {"support": "pricey"}}}
    async with running_simulator(models, replay=replay) as sim, aiohttp.ClientSession() as http:
        for prompt in (TICKET, "Something else entirely"):
            body = {"model": "m", "messages": [{"role": "user", "content": prompt}]}
            async with http.post(f"{sim.base_url}/chat/completions", json=body) as r:
                assert r.status == 200
        async with http.get(f"{sim.url}/admin/models") as r:
            state = await r.json()
    assert state["replay"] == {"datasets": ["support"], "replayed": 1, "misses": 1}
    assert state["models"][0]["counters"]["replay_misses"] == 1


async def test_process_replays_a_dataset_file(support: Path, tmp_path: Path) -> None:
    """`--replay FILE --replay gsm8k` on the real process: the file's answer and token
    counts over HTTP (OpenAI and Anthropic formats), an unknown prompt counted."""
    models = tmp_path / "models.yaml"
    models.write_text(
        "models:\n"
        "  small: {replay: {support: cheap, gsm8k: mistralai/Mixtral-8x7B-Instruct-v0.1}}\n"
        "  large: {replay: {support: pricey}}\n"
    )
    port_file = tmp_path / "port"
    proc = launch(
        "--port", "0", "--port-file", str(port_file), "--models-file", str(models),
        "--replay", str(support), "--replay", "gsm8k", "--data-dir", str(FIXTURES),
    )  # fmt: skip
    try:
        root = f"http://127.0.0.1:{await wait_for_port(port_file, proc)}"
        messages = [{"role": "user", "content": TICKET}]
        async with aiohttp.ClientSession() as http:
            body = {"model": "large", "messages": messages}
            async with http.post(f"{root}/v1/chat/completions", json=body) as r:
                openai = await r.json()
            body = {"model": "small", "messages": messages, "max_tokens": 100}
            async with http.post(f"{root}/v1/messages", json=body) as r:
                anthropic = await r.json()
            body = {"model": "large", "messages": [{"role": "user", "content": "Unknown?"}]}
            async with http.post(f"{root}/v1/chat/completions", json=body) as r:
                assert r.status == 200
            async with http.get(f"{root}/admin/models") as r:
                state = await r.json()
        assert openai["choices"][0]["message"]["content"].startswith("The export button fails")
        assert openai["usage"]["prompt_tokens"] == 38
        assert openai["usage"]["completion_tokens"] == 23
        assert anthropic["content"][0]["text"] == "Safari export broken."
        assert anthropic["usage"] == {"input_tokens": 41, "output_tokens": 9}
        assert state["replay"] == {"datasets": ["support", "gsm8k"], "replayed": 2, "misses": 1}
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 10)


async def test_bad_replay_file_exits_2_with_one_line(tmp_path: Path) -> None:
    """A dataset file with a bad line stops the process at startup: exit 2, one line
    naming the file, line and field, no traceback."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "messages": [{"role": "user", "content": "hi"}]}\n')
    proc = launch("--port", "0", "--replay", str(bad), "--models-file", "examples/simulator.yaml")
    _, stderr = await asyncio.to_thread(proc.communicate, timeout=30)
    assert proc.returncode == 2
    assert "Traceback" not in stderr
    assert "bad.jsonl:1: task_type: missing" in stderr


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
