"""Both HTTP adapters carry the request's trace to the provider: inside a traced request
the POST is a client span and the provider (the simulator, over real HTTP) receives a
traceparent naming that span; outside one no trace header is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from services.router.providers import (
    ChatTurn,
    CompletionRequest,
    Outcome,
    Provider,
    create_session,
    make_provider,
)
from services.simulator.testing import RunningSimulator, running_simulator
from switchyard.runtime.tracing import Tracing

TRACE_ID = 0x3D1F5A9B2C7E4F60A1B2C3D4E5F60718
CALLER_SPAN_ID = 0x1122334455667788


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with running_simulator({"m": {"ttft_ms": 0}}, seed=1) as running:
        yield running


def request(model: str = "m") -> CompletionRequest:
    return CompletionRequest(
        upstream_model=model,
        messages=(ChatTurn("user", "Explain vector clocks"),),
        max_tokens=512,
        timeout_s=5.0,
    )


@pytest.mark.parametrize("kind", ["openai_compatible", "anthropic"])
async def test_each_adapter_sends_the_traceparent_of_its_client_span(
    sim: RunningSimulator, kind: str
) -> None:
    """The simulator saw trace TRACE_ID with the provider.http span as parent; that span
    is a CLIENT child of the caller's, with the server address, path and status."""
    exporter = InMemorySpanExporter()
    tracing = Tracing.to_exporter(exporter, service="router")
    session = create_session()
    provider: Provider = make_provider(kind, sim.base_url, api_key=None, session=session)
    caller = (("traceparent", f"00-{TRACE_ID:032x}-{CALLER_SPAN_ID:016x}-01"),)
    try:
        with tracing.server_span("rpc", caller):
            completion = await provider.complete(request())
    finally:
        await session.close()
    assert completion.outcome is Outcome.OK
    [http] = [s for s in exporter.get_finished_spans() if s.name == "provider.http"]
    assert http.kind is SpanKind.CLIENT and http.context.trace_id == TRACE_ID
    assert http.attributes["server.address"] == "127.0.0.1"
    assert http.attributes["server.port"] == sim.port
    assert http.attributes["url.path"] in ("/v1/chat/completions", "/v1/messages")
    assert http.attributes["http.response.status_code"] == 200
    [seen] = list(sim.model("m").traceparents)
    assert seen == f"00-{TRACE_ID:032x}-{http.context.span_id:016x}-01"


async def test_an_unknown_model_is_an_error_span_and_no_trace_leaves_an_untraced_call(
    sim: RunningSimulator,
) -> None:
    """A 404 from the provider marks its client span as an error; a call made outside a
    traced request sends no traceparent at all."""
    exporter = InMemorySpanExporter()
    tracing = Tracing.to_exporter(exporter, service="router")
    session = create_session()
    provider = make_provider("openai_compatible", sim.base_url, api_key=None, session=session)
    try:
        with tracing.server_span("rpc", None):
            missing = await provider.complete(request("nope"))
        untraced = await provider.complete(request())
    finally:
        await session.close()
    assert missing.outcome is Outcome.CLIENT_ERROR and untraced.outcome is Outcome.OK
    [http] = [s for s in exporter.get_finished_spans() if s.name == "provider.http"]
    assert http.attributes["http.response.status_code"] == 404
    assert http.status.status_code is StatusCode.ERROR
    assert list(sim.model("m").traceparents) == []


async def test_a_refused_connection_is_an_error_span_with_its_outcome(
    sim: RunningSimulator,
) -> None:
    """Nobody listens: the client span ends with error.type connection_error."""
    exporter = InMemorySpanExporter()
    tracing = Tracing.to_exporter(exporter, service="router")
    session = create_session()
    provider = make_provider(
        "openai_compatible", "http://127.0.0.1:9/v1", api_key=None, session=session
    )
    try:
        with tracing.server_span("rpc", None):
            completion = await provider.complete(request())
    finally:
        await session.close()
    assert completion.outcome is Outcome.CONNECTION_ERROR
    [http] = [s for s in exporter.get_finished_spans() if s.name == "provider.http"]
    assert http.attributes["error.type"] == "connection_error"
    assert http.status.status_code is StatusCode.ERROR
