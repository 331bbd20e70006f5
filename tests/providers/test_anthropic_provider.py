"""AnthropicProvider over real HTTP against the simulator's /v1/messages and odd upstreams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from services.router.providers import AnthropicProvider, ChatTurn, CompletionRequest, Outcome
from services.router.providers.anthropic import JSON_INSTRUCTION
from services.simulator.faults import FaultSettings
from services.simulator.testing import RunningSimulator, running_simulator
from tests.providers.conftest import Handler, StartUpstream

MODELS = {
    "claude-good": {"quality": 1.0, "answer_tokens": 40},
    "claude-overloaded": {"error_rate": 1.0, "error_status": 529},
    "claude-limited": {"error_rate": 1.0, "error_status": 429, "retry_after_s": 3},
}


def request(model: str = "claude-good", **kw: object) -> CompletionRequest:
    return CompletionRequest(
        upstream_model=model,
        messages=kw.pop(  # type: ignore[arg-type]
            "messages",
            (ChatTurn("system", "Be brief."), ChatTurn("user", "Explain vector clocks")),
        ),
        max_tokens=kw.pop("max_tokens", 256),  # type: ignore[arg-type]
        timeout_s=5.0,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with running_simulator(MODELS, seed=3) as running:
        yield running


@pytest.fixture
async def provider(sim: RunningSimulator) -> AsyncIterator[AnthropicProvider]:
    p = AnthropicProvider(sim.base_url, api_key="sk-ant-test")
    yield p
    await p.close()


@pytest.fixture
def fake_upstream(upstream_app: StartUpstream) -> Callable[[Handler], Awaitable[str]]:
    """Serve POST /v1/messages with a given handler; returns the /v1 base URL."""
    return lambda handler: upstream_app("/v1/messages", handler)


async def test_ok(provider: AnthropicProvider) -> None:
    """A normal reply is OK with the text blocks joined, usage and stop reason normalised."""
    c = await provider.complete(request())
    assert c.outcome is Outcome.OK
    assert "vector clocks" in c.text
    assert c.finish_reason == "stop"
    assert c.extra["stop_reason"] == "end_turn"
    assert c.input_tokens > 0 and c.output_tokens > 0


async def test_max_tokens_is_truncated(provider: AnthropicProvider) -> None:
    """stop_reason max_tokens is TRUNCATED with the partial text kept."""
    c = await provider.complete(request(max_tokens=4))
    assert c.outcome is Outcome.TRUNCATED
    assert c.finish_reason == "length"
    assert len(c.text) == 16


async def test_overloaded_and_rate_limited(provider: AnthropicProvider) -> None:
    """529 overloaded is SERVER_ERROR; 429 is RATE_LIMITED with its Retry-After."""
    c = await provider.complete(request("claude-overloaded"))
    assert c.outcome is Outcome.SERVER_ERROR
    assert "HTTP 529" in c.detail
    c = await provider.complete(request("claude-limited"))
    assert c.outcome is Outcome.RATE_LIMITED
    assert c.retry_after_s == 3


async def test_not_found_is_client_error(provider: AnthropicProvider) -> None:
    """An unknown model (404 not_found_error) is CLIENT_ERROR."""
    c = await provider.complete(request("claude-9"))
    assert c.outcome is Outcome.CLIENT_ERROR
    assert "claude-9" in c.detail


async def test_malformed(sim: RunningSimulator, provider: AnthropicProvider) -> None:
    """Every malformed body the simulator sends in Anthropic format is MALFORMED."""
    sim.model("claude-good").faults = FaultSettings(malformed_rate=1.0)
    outcomes = {(await provider.complete(request())).outcome for _ in range(12)}
    assert outcomes == {Outcome.MALFORMED}


async def test_request_shape(fake_upstream: Callable[[Handler], Awaitable[str]]) -> None:
    """Headers, separated system prompt, merged turns, JSON instruction, clamped temperature."""
    seen: dict[str, object] = {}

    async def reply(request: web.Request) -> web.Response:
        seen["headers"] = dict(request.headers)
        seen["body"] = await request.json()
        return web.json_response(
            {
                "type": "message",
                "content": [{"type": "text", "text": "{}"}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 2},
            }
        )

    p = AnthropicProvider(await fake_upstream(reply), api_key="sk-ant-1")
    messages = (
        ChatTurn("system", "Be brief."),
        ChatTurn("user", "Part one."),
        ChatTurn("user", "Part two."),
        ChatTurn("assistant", "Ok."),
        ChatTurn("user", "Go on."),
    )
    c = await p.complete(request(messages=messages, json_mode=True, temperature=1.5, stop=("END",)))
    await p.close()
    assert (c.outcome, c.input_tokens, c.output_tokens) == (Outcome.OK, 15, 2)
    headers = seen["headers"]
    assert headers["x-api-key"] == "sk-ant-1"  # type: ignore[index]
    assert headers["anthropic-version"] == "2023-06-01"  # type: ignore[index]
    assert seen["body"] == {
        "model": "claude-good",
        "max_tokens": 256,
        "system": f"Be brief.\n\n{JSON_INSTRUCTION}",
        "messages": [
            {"role": "user", "content": "Part one.\n\nPart two."},
            {"role": "assistant", "content": "Ok."},
            {"role": "user", "content": "Go on."},
        ],
        "temperature": 1.0,
        "stop_sequences": ["END"],
    }


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (
            200,
            {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
            Outcome.SERVER_ERROR,
        ),
        (
            200,
            {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}},
            Outcome.RATE_LIMITED,
        ),
        (200, {"type": "message", "content": [{"type": "text"}]}, Outcome.MALFORMED),
        (200, {"type": "message", "content": ["text"]}, Outcome.MALFORMED),
        (
            400,
            {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}},
            Outcome.CLIENT_ERROR,
        ),
        (
            500,
            {"type": "error", "error": {"type": "api_error", "message": "oops"}},
            Outcome.SERVER_ERROR,
        ),
    ],
)
async def test_error_shapes(
    fake_upstream: Callable[[Handler], Awaitable[str]],
    status: int,
    body: object,
    outcome: Outcome,
) -> None:
    """Anthropic error bodies (also inside a 200) and broken content map to one outcome."""

    async def reply(request: web.Request) -> web.Response:
        return web.json_response(body, status=status)

    p = AnthropicProvider(await fake_upstream(reply), api_key=None)
    c = await p.complete(request())
    await p.close()
    assert c.outcome is outcome
    assert c.detail


async def test_non_text_blocks_are_skipped(
    fake_upstream: Callable[[Handler], Awaitable[str]],
) -> None:
    """Only text blocks form the answer (tool_use or thinking blocks are ignored)."""

    async def reply(request: web.Request) -> web.Response:
        content = [
            {"type": "thinking", "thinking": "hmm"},
            {"type": "text", "text": "Hello "},
            {"type": "text", "text": "world"},
        ]
        return web.json_response({"type": "message", "content": content, "stop_reason": "end_turn"})

    p = AnthropicProvider(await fake_upstream(reply), api_key=None)
    c = await p.complete(request())
    await p.close()
    assert (c.outcome, c.text) == (Outcome.OK, "Hello world")
