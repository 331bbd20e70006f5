"""The simulator over real HTTP on port 0: OpenAI and Anthropic formats, health, admin."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.simulator.testing import RunningSimulator, running_simulator

MODELS = {
    "good": {"quality": 1.0, "answer_tokens": 40},
    "flaky": {"error_rate": 1.0, "error_status": 429, "retry_after_s": 1.5},
    "tiny": {"quality": 1.0, "context_window": 20},
}
CHAT = {"model": "good", "messages": [{"role": "user", "content": "Explain the Raft protocol"}]}


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with running_simulator(MODELS, seed=1) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_chat_completion_shape(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    """A chat completion has every OpenAI field, consistent usage and an on-topic answer."""
    async with http.post(f"{sim.base_url}/chat/completions", json=CHAT) as r:
        assert r.status == 200
        body = await r.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "good"
    assert isinstance(body["created"], int)
    choice = body["choices"][0]
    assert choice["index"] == 0
    assert choice["message"]["role"] == "assistant"
    assert "Raft protocol" in choice["message"]["content"]
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] > 0


async def test_json_mode_over_http(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    """response_format json_object yields content that parses as a JSON object."""
    payload = {**CHAT, "response_format": {"type": "json_object"}, "max_tokens": 500}
    async with http.post(f"{sim.base_url}/chat/completions", json=payload) as r:
        content = (await r.json())["choices"][0]["message"]["content"]
    assert isinstance(json.loads(content), dict)


async def test_unknown_model_is_openai_404(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """An unknown model gets 404 with an OpenAI-style error body."""
    async with http.post(f"{sim.base_url}/chat/completions", json={**CHAT, "model": "gpt-9"}) as r:
        assert r.status == 404
        error = (await r.json())["error"]
    assert error["code"] == "model_not_found"
    assert error["param"] == "model"
    assert "gpt-9" in error["message"]


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"model": "good"}, "messages"),
        ({"model": "good", "messages": []}, "messages"),
        ({"messages": CHAT["messages"]}, "model"),
        ({**CHAT, "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({**CHAT, "max_tokens": 0}, "max_tokens"),
        ({**CHAT, "temperature": 5}, "temperature"),
        ({**CHAT, "response_format": {"type": "yaml"}}, "response_format"),
        ({**CHAT, "stop": 3}, "stop"),
    ],
)
async def test_bad_requests_are_400(
    sim: RunningSimulator, http: aiohttp.ClientSession, payload: dict, param: str
) -> None:
    """Each malformed request is a 400 naming the offending parameter."""
    async with http.post(f"{sim.base_url}/chat/completions", json=payload) as r:
        assert r.status == 400
        assert (await r.json())["error"]["param"] == param


async def test_body_not_json_is_400(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    """A body that is not JSON is a 400, not a crash."""
    async with http.post(f"{sim.base_url}/chat/completions", data=b"{nope") as r:
        assert r.status == 400
        assert "not valid JSON" in (await r.json())["error"]["message"]


async def test_429_sends_retry_after(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    """A simulated 429 carries Retry-After (whole seconds) and retry-after-ms."""
    async with http.post(f"{sim.base_url}/chat/completions", json={**CHAT, "model": "flaky"}) as r:
        assert r.status == 429
        assert r.headers["Retry-After"] == "2"
        assert r.headers["retry-after-ms"] == "1500"
        assert (await r.json())["error"]["type"] == "rate_limit_error"


async def test_context_window_400(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    """A prompt over the model's context window is a 400 context_length_exceeded."""
    payload = {"model": "tiny", "messages": [{"role": "user", "content": "word " * 50}]}
    async with http.post(f"{sim.base_url}/chat/completions", json=payload) as r:
        assert r.status == 400
        assert (await r.json())["error"]["code"] == "context_length_exceeded"


async def test_models_and_health(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    """/v1/models lists every simulated model; /healthz is ok until draining."""
    async with http.get(f"{sim.base_url}/models") as r:
        ids = [m["id"] for m in (await r.json())["data"]]
    assert ids == list(MODELS)
    async with http.get(f"{sim.url}/healthz") as r:
        assert r.status == 200
    sim.fleet.draining = True
    async with http.get(f"{sim.url}/healthz") as r:
        assert r.status == 503


async def test_anthropic_messages(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    """POST /v1/messages answers in the Anthropic format, system prompt counted."""
    payload = {
        "model": "good",
        "max_tokens": 500,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Explain Paxos"}]}],
    }
    async with http.post(f"{sim.base_url}/messages", json=payload) as r:
        assert r.status == 200
        body = await r.json()
    assert body["type"] == "message"
    assert body["id"].startswith("msg_")
    assert body["stop_reason"] == "end_turn"
    assert "Paxos" in body["content"][0]["text"]
    assert body["usage"]["input_tokens"] > 6


async def test_anthropic_max_tokens_and_errors(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """max_tokens stops with stop_reason max_tokens; errors use Anthropic error types."""
    payload = {"model": "good", "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]}
    async with http.post(f"{sim.base_url}/messages", json=payload) as r:
        assert (await r.json())["stop_reason"] == "max_tokens"
    async with http.post(f"{sim.base_url}/messages", json={**payload, "model": "nope"}) as r:
        assert r.status == 404
        assert (await r.json())["error"]["type"] == "not_found_error"
    async with http.post(f"{sim.base_url}/messages", json={**payload, "max_tokens": None}) as r:
        assert r.status == 400
        assert "max_tokens" in (await r.json())["error"]["message"]


async def test_admin_faults_roundtrip(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    """PUT sets faults that shape replies, GET shows them with counters, DELETE resets."""
    url = f"{sim.url}/admin/models/good/faults"
    async with http.put(url, json={"error_rate": 1.0, "error_status": 502}) as r:
        assert r.status == 200
        assert (await r.json())["faults"]["error_status"] == 502
    async with http.post(f"{sim.base_url}/chat/completions", json=CHAT) as r:
        assert r.status == 502
    async with http.get(f"{sim.url}/admin/models") as r:
        models = {m["name"]: m for m in (await r.json())["models"]}
    assert models["good"]["faults_active"] is True
    assert models["good"]["counters"]["errors"] == 1
    assert models["good"]["profile"]["quality"] == 1.0
    async with http.delete(url) as r:
        assert r.status == 200
        assert (await r.json())["faults_active"] is False
    async with http.post(f"{sim.base_url}/chat/completions", json=CHAT) as r:
        assert r.status == 200


async def test_admin_malformed_fault(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    """malformed_rate 1.0 sends 200 bodies that are not valid completions."""
    await http.put(f"{sim.url}/admin/models/good/faults", json={"malformed_rate": 1.0})
    for _ in range(8):
        async with http.post(f"{sim.base_url}/chat/completions", json=CHAT) as r:
            assert r.status == 200
            raw = await r.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            continue
        assert "choices" not in parsed or "message" not in parsed["choices"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"error_rate": 2}, "error_rate"),
        ({"latency_multiplier": "fast"}, "latency_multiplier"),
        ({"bogus": 1}, "bogus"),
    ],
)
async def test_admin_rejects_bad_faults(
    sim: RunningSimulator, http: aiohttp.ClientSession, body: dict, field: str
) -> None:
    """A bad fault body is a 400 naming the field, and the old faults stay in place."""
    url = f"{sim.url}/admin/models/good/faults"
    await http.put(url, json={"refusal_rate": 0.5})
    async with http.put(url, json=body) as r:
        assert r.status == 400
        error = (await r.json())["error"]
    assert field in error["message"]
    assert [v["field"] for v in error["field_violations"]] == [field]
    assert sim.model("good").faults.refusal_rate == 0.5


async def test_admin_unknown_model_404(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    """Admin calls on a model that does not exist are 404."""
    async with http.put(f"{sim.url}/admin/models/nope/faults", json={}) as r:
        assert r.status == 404
    async with http.get(f"{sim.url}/admin/models/nope") as r:
        assert r.status == 404
