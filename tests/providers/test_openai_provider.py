"""OpenAICompatibleProvider over real HTTP: every way a call can end maps to one Outcome."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from services.router.providers import (
    ChatTurn,
    CompletionRequest,
    OpenAICompatibleProvider,
    Outcome,
    create_session,
)
from services.simulator.faults import FaultSettings
from services.simulator.testing import RunningSimulator, running_simulator
from tests.providers.conftest import Handler, StartUpstream

MODELS = {
    "good": {"quality": 1.0, "answer_tokens": 40},
    "down": {"error_rate": 1.0, "error_status": 503},
    "limited": {"error_rate": 1.0, "error_status": 429, "retry_after_s": 0.25},
    "slow": {"ttft_ms": 1000},
    "tiny": {"context_window": 5},
}


def request(model: str = "good", *, timeout_s: float = 5.0, **kw: object) -> CompletionRequest:
    return CompletionRequest(
        upstream_model=model,
        messages=(
            ChatTurn("system", "Be helpful."),
            ChatTurn("user", "Explain consistent hashing"),
        ),
        max_tokens=kw.pop("max_tokens", 256),  # type: ignore[arg-type]
        timeout_s=timeout_s,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with running_simulator(MODELS, seed=2) as running:
        yield running


@pytest.fixture
async def provider(sim: RunningSimulator) -> AsyncIterator[OpenAICompatibleProvider]:
    p = OpenAICompatibleProvider(sim.base_url, api_key="sk-test")
    yield p
    await p.close()


@pytest.fixture
def fake_upstream(upstream_app: StartUpstream) -> Callable[[Handler], Awaitable[str]]:
    """Serve POST /v1/chat/completions with a given handler; returns the /v1 base URL."""
    return lambda handler: upstream_app("/v1/chat/completions", handler)


async def complete_with(endpoint: str, req: CompletionRequest | None = None) -> object:
    p = OpenAICompatibleProvider(endpoint, api_key=None)
    try:
        return await p.complete(req or request())
    finally:
        await p.close()


async def test_ok(provider: OpenAICompatibleProvider) -> None:
    """A normal answer is OK with text, real token counts and a measured latency."""
    c = await provider.complete(request())
    assert c.outcome is Outcome.OK
    assert "consistent hashing" in c.text
    assert c.finish_reason == "stop"
    assert c.input_tokens > 0 and c.output_tokens > 0
    assert c.latency_s > 0
    assert c.extra == {}


async def test_json_mode_and_stop_reach_upstream(provider: OpenAICompatibleProvider) -> None:
    """json_mode asks for a JSON object; stop sequences cut the answer upstream."""
    c = await provider.complete(request(json_mode=True, max_tokens=500))
    assert c.text.startswith("{")
    c = await provider.complete(request(stop=("hashing",)))
    assert "hashing" not in c.text


async def test_server_error(provider: OpenAICompatibleProvider) -> None:
    """A 503 is SERVER_ERROR with the status and upstream message in the detail."""
    c = await provider.complete(request("down"))
    assert c.outcome is Outcome.SERVER_ERROR
    assert c.outcome.retryable
    assert "HTTP 503" in c.detail and "simulated upstream error" in c.detail


async def test_rate_limited_with_retry_after(provider: OpenAICompatibleProvider) -> None:
    """A 429 is RATE_LIMITED and carries the upstream's Retry-After."""
    c = await provider.complete(request("limited"))
    assert c.outcome is Outcome.RATE_LIMITED
    assert c.retry_after_s == pytest.approx(0.25)


async def test_client_errors(provider: OpenAICompatibleProvider) -> None:
    """Unknown model (404) and an over-long prompt (400) are CLIENT_ERROR, not retryable."""
    for model in ("nope", "tiny"):
        c = await provider.complete(request(model))
        assert c.outcome is Outcome.CLIENT_ERROR
        assert not c.outcome.retryable


async def test_truncated_keeps_text(provider: OpenAICompatibleProvider) -> None:
    """finish_reason length is TRUNCATED and the partial text is kept."""
    c = await provider.complete(request(max_tokens=5))
    assert c.outcome is Outcome.TRUNCATED
    assert c.finish_reason == "length"
    assert len(c.text) == 20
    assert c.output_tokens == 5


async def test_timeout(provider: OpenAICompatibleProvider) -> None:
    """An upstream slower than timeout_s is TIMEOUT, not a late answer."""
    c = await provider.complete(request("slow", timeout_s=0.1))
    assert c.outcome is Outcome.TIMEOUT
    assert c.latency_s >= 0.1
    assert "0.1s" in c.detail


async def test_malformed_from_fault_injection(
    sim: RunningSimulator, provider: OpenAICompatibleProvider
) -> None:
    """Every malformed body the simulator can send is MALFORMED."""
    sim.model("good").faults = FaultSettings(malformed_rate=1.0)
    outcomes = {(await provider.complete(request())).outcome for _ in range(12)}
    assert outcomes == {Outcome.MALFORMED}


async def test_empty_answer_is_ok_with_empty_text(
    sim: RunningSimulator, provider: OpenAICompatibleProvider
) -> None:
    """An empty answer is transport-OK; judging it is the verifier's job."""
    sim.model("good").faults = FaultSettings(empty_rate=1.0)
    c = await provider.complete(request())
    assert (c.outcome, c.text) == (Outcome.OK, "")


async def test_connection_refused() -> None:
    """Nothing listening is CONNECTION_ERROR."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = await complete_with(f"http://127.0.0.1:{port}/v1")
    assert c.outcome is Outcome.CONNECTION_ERROR  # type: ignore[attr-defined]


async def test_connection_reset(fake_upstream: Callable[[Handler], Awaitable[str]]) -> None:
    """A server that drops the connection mid-request is CONNECTION_ERROR."""

    async def drop(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.abort()
        await asyncio.sleep(0.5)
        return web.Response()

    c = await complete_with(await fake_upstream(drop))
    assert c.outcome is Outcome.CONNECTION_ERROR  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "body", "outcome", "detail"),
    [
        (
            200,
            {"error": {"message": "upstream overloaded", "code": 502}},
            Outcome.SERVER_ERROR,
            "overloaded",
        ),
        (200, {"error": {"message": "slow down", "code": 429}}, Outcome.RATE_LIMITED, "slow down"),
        (200, {"error": "boom"}, Outcome.SERVER_ERROR, "boom"),
        (200, {"choices": []}, Outcome.MALFORMED, "no choices"),
        (200, {"choices": [{"message": {"content": None}}]}, Outcome.MALFORMED, "content"),
        (200, [1, 2, 3], Outcome.MALFORMED, "not a JSON object"),
        (408, {"error": {"message": "took too long"}}, Outcome.TIMEOUT, "HTTP 408"),
        (500, "<html>oops</html>", Outcome.SERVER_ERROR, "oops"),
        (401, {"error": {"message": "bad key"}}, Outcome.CLIENT_ERROR, "bad key"),
    ],
)
async def test_odd_upstream_replies(
    fake_upstream: Callable[[Handler], Awaitable[str]],
    status: int,
    body: object,
    outcome: Outcome,
    detail: str,
) -> None:
    """200-with-error, missing fields, garbage and odd statuses each map to one outcome."""

    async def reply(request: web.Request) -> web.Response:
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="text/html")
        return web.json_response(body, status=status)

    c = await complete_with(await fake_upstream(reply))
    assert c.outcome is outcome  # type: ignore[attr-defined]
    assert detail in c.detail  # type: ignore[attr-defined]


async def test_garbage_body(fake_upstream: Callable[[Handler], Awaitable[str]]) -> None:
    """A 200 whose body is not JSON at all is MALFORMED."""

    async def reply(request: web.Request) -> web.Response:
        return web.Response(body=b"\xff\xfe not json", content_type="application/json")

    c = await complete_with(await fake_upstream(reply))
    assert c.outcome is Outcome.MALFORMED  # type: ignore[attr-defined]


async def test_missing_usage_is_estimated(
    fake_upstream: Callable[[Handler], Awaitable[str]],
) -> None:
    """A server that omits usage gets the conservative per-script estimates (40 ASCII
    letters: 10 tokens), flagged in extra."""

    async def reply(request: web.Request) -> web.Response:
        message = {"role": "assistant", "content": "x" * 40}
        return web.json_response({"choices": [{"message": message, "finish_reason": "stop"}]})

    c = await complete_with(await fake_upstream(reply))
    assert c.outcome is Outcome.OK  # type: ignore[attr-defined]
    assert c.output_tokens == 10  # type: ignore[attr-defined]
    assert c.extra == {"usage_estimated": "true"}  # type: ignore[attr-defined]


async def test_request_shape(fake_upstream: Callable[[Handler], Awaitable[str]]) -> None:
    """The adapter sends the bearer key and an OpenAI-format body built from the request."""
    seen: dict[str, object] = {}

    async def reply(request: web.Request) -> web.Response:
        seen["auth"] = request.headers.get("Authorization")
        seen["body"] = await request.json()
        message = {"role": "assistant", "content": "fine"}
        return web.json_response({"choices": [{"message": message, "finish_reason": "stop"}]})

    endpoint = await fake_upstream(reply)
    p = OpenAICompatibleProvider(endpoint + "/", api_key="sk-1")
    await p.complete(request(json_mode=True, stop=("END",), temperature=0.2))
    await p.close()
    assert seen["auth"] == "Bearer sk-1"
    assert seen["body"] == {
        "model": "good",
        "messages": [
            {"role": "system", "content": "Be helpful."},
            {"role": "user", "content": "Explain consistent hashing"},
        ],
        "max_tokens": 256,
        "temperature": 0.2,
        "response_format": {"type": "json_object"},
        "stop": ["END"],
    }


async def test_shared_session_survives_provider_close(sim: RunningSimulator) -> None:
    """A session passed in belongs to the caller: closing a provider leaves it open."""
    session = create_session()
    try:
        first = OpenAICompatibleProvider(sim.base_url, api_key=None, session=session)
        second = OpenAICompatibleProvider(sim.base_url, api_key=None, session=session)
        assert (await first.complete(request())).outcome is Outcome.OK
        await first.close()
        assert not session.closed
        assert (await second.complete(request())).outcome is Outcome.OK
    finally:
        await session.close()


async def test_many_concurrent_calls_share_the_pool(sim: RunningSimulator) -> None:
    """Hundreds of concurrent calls over one pooled session all succeed."""
    session = create_session()
    p = OpenAICompatibleProvider(sim.base_url, api_key=None, session=session)
    try:
        results = await asyncio.gather(*(p.complete(request()) for _ in range(300)))
    finally:
        await session.close()
    assert {r.outcome for r in results} == {Outcome.OK}
