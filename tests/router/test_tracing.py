"""Tracing end to end in one process: a real router and a real verifier (each with its own
tracer and the SDK's in-memory exporter, as two services would have), the simulator over
real HTTP, and a client that sends a W3C traceparent in its gRPC metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from services.router.app import RouterApp, build_router
from services.router.state import RouterState
from services.router.testing import snapshot
from services.simulator.faults import parse_faults
from services.simulator.testing import RunningSimulator, running_simulator
from services.verifier.servicer import VerifierServicer, register_verifier
from switchyard.fleet import parse_fleet
from switchyard.registry.v1 import registry_pb2
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import RunningServer, start_server
from switchyard.runtime.tracing import Tracing

CLIENT_TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
CLIENT_SPAN_ID = 0x00F067AA0BA902B7
TRACEPARENT = f"00-{CLIENT_TRACE_ID:032x}-{CLIENT_SPAN_ID:016x}-01"
ROUTE_RPC = "switchyard.router.v1.RouterService/Route"
VERIFY_RPC = "switchyard.verifier.v1.VerifierService/Verify"
RANK_RPC = "switchyard.verifier.v1.VerifierService/Rank"

SIM_MODELS = {
    # poor's answers are always too short for the length check: it escalates.
    "poor": {"ttft_ms": 0, "tokens_per_second": 0, "quality": 0.0, "answer_tokens": 40},
    "good": {"ttft_ms": 0, "tokens_per_second": 0, "quality": 1.0, "answer_tokens": 40},
}
FLEET = "\n".join(
    f"""- id: {name}
  provider: {{kind: simulator, endpoint: "${{SIM}}", upstream_model: {name}}}
  pricing: {{input_per_mtok_micros: 100000, output_per_mtok_micros: 400000}}
  context_window: 16384
  max_output_tokens: 1024
  latency: {{total_p50_ms: 10}}"""
    for name in SIM_MODELS
)
POLICY = """
name: traced
max_deadline_ms: 5000
budget_micros: 1000000
retry: {max_retries: 0}
checks: [{name: non_empty}, {name: length, params: {min_chars: 20}}]
rules:
  - name: ensemble
    when: {metadata: {case: parallel}}
    strategy: {kind: parallel, models: [poor, good]}
default:
  name: escalate
  strategy: {kind: cascade, stages: [{model: poor}, {model: good}]}
"""


@dataclass
class TracedSuite:
    sim: RunningSimulator
    router_spans: InMemorySpanExporter
    verifier_spans: InMemorySpanExporter
    stub: router_pb2_grpc.RouterServiceStub

    async def route(self, traceparent: str | None = None, **kw: Any) -> router_pb2.RouteResponse:
        request = router_pb2.RouteRequest(
            messages=[router_pb2.ChatMessage(role="user", content="Explain how B-trees work.")],
            max_output_tokens=200,
            **kw,
        )
        metadata = (("traceparent", traceparent),) if traceparent is not None else ()
        return await self.stub.Route(request, metadata=metadata, timeout=10)

    async def traceparents(self, model: str) -> list[str]:
        """What the simulator's admin endpoint says the model's calls carried."""
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{self.sim.url}/admin/models/{model}") as reply:
                return (await reply.json())["traceparents"]


async def _servers(
    sim: RunningSimulator, tmp_path: Path, *, traced: bool
) -> tuple[RouterApp, RunningServer, RunningServer, InMemorySpanExporter, InMemorySpanExporter]:
    router_spans, verifier_spans = InMemorySpanExporter(), InMemorySpanExporter()
    verifier = await start_server(
        name="verifier",
        config=ServerConfig(port=0),
        register=register_verifier(VerifierServicer(scorer=None)),
        tracing=Tracing.to_exporter(verifier_spans, service="verifier") if traced else None,
    )
    state = RouterState(str(tmp_path))
    models = parse_fleet(FLEET, environ={"SIM": sim.base_url})
    state.apply_fleet_snapshot(registry_pb2.FleetSnapshot(models=models, revision=1))
    state.apply_snapshot(snapshot(POLICY))
    app = build_router(
        state=state,
        environ={},
        verifier_address=f"127.0.0.1:{verifier.port}",
        review_dir=str(tmp_path),
    )
    router = await start_server(
        name="router",
        config=ServerConfig(port=0),
        register=app.register,
        tracing=Tracing.to_exporter(router_spans, service="router") if traced else None,
    )
    return app, router, verifier, router_spans, verifier_spans


@asynccontextmanager
async def traced_suite(tmp_path: Path, *, traced: bool) -> AsyncIterator[TracedSuite]:
    async with running_simulator(SIM_MODELS, seed=7) as sim:
        app, router, verifier, router_spans, verifier_spans = await _servers(
            sim, tmp_path, traced=traced
        )
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{router.port}") as channel:
                yield TracedSuite(
                    sim, router_spans, verifier_spans, router_pb2_grpc.RouterServiceStub(channel)
                )
        finally:
            await router.stop(0.5)
            await app.close()
            await verifier.stop(0.5)


@pytest.fixture
async def suite(tmp_path: Path) -> AsyncIterator[TracedSuite]:
    async with traced_suite(tmp_path, traced=True) as running:
        yield running


def only(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    [match] = [s for s in spans if s.name == name]
    return match


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.name == name), key=lambda s: s.start_time or 0)


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def traceparent_ids(header: str) -> tuple[int, int]:
    """(trace id, parent span id) of a W3C traceparent header."""
    _version, trace_id, span_id, _flags = header.split("-")
    return int(trace_id, 16), int(span_id, 16)


async def test_a_cascade_route_is_one_span_tree_under_the_callers_trace(
    suite: TracedSuite,
) -> None:
    """With the client's traceparent, every router span is in the client's trace: the
    server span is the client span's child; route under it; selection and one attempt
    per stage under route; each attempt holds its provider call and its verification."""
    response = await suite.route(TRACEPARENT)
    assert response.model_id == "good" and len(response.attempts) == 2
    spans = suite.router_spans.get_finished_spans()
    assert {s.context.trace_id for s in spans} == {CLIENT_TRACE_ID}

    server = only(spans, ROUTE_RPC)
    assert server.kind is SpanKind.SERVER and parent_of(server) == CLIENT_SPAN_ID
    assert server.parent is not None and server.parent.is_remote
    assert server.attributes["rpc.grpc.status_code"] == 0
    route = only(spans, "route")
    assert parent_of(route) == server.context.span_id
    assert route.attributes["switchyard.rule"] == "escalate"
    assert route.attributes["switchyard.model"] == "good"
    assert route.attributes["switchyard.escalations"] == 1
    assert route.attributes["switchyard.cost_micros"] == response.total_cost_micros

    selection = only(spans, "selection")
    assert parent_of(selection) == route.context.span_id
    assert selection.attributes["switchyard.chain"] == ("poor", "good")
    assert selection.attributes["switchyard.selector"] == "static"

    attempts = named(spans, "attempt")
    assert [a.attributes["switchyard.model"] for a in attempts] == ["poor", "good"]
    assert [a.attributes["switchyard.verdict"] for a in attempts] == ["reject", "accept"]
    assert all(parent_of(a) == route.context.span_id for a in attempts)
    for attempt in attempts:
        [http] = [
            s for s in named(spans, "provider.http") if parent_of(s) == attempt.context.span_id
        ]
        assert http.kind is SpanKind.CLIENT
        assert http.attributes["http.response.status_code"] == 200
        [verification] = [
            s for s in named(spans, "verification") if parent_of(s) == attempt.context.span_id
        ]
        assert verification.attributes["switchyard.accepted"] is (attempt is attempts[1])
    # Children end before their parents: the spans nest in time too.
    assert all(a.end_time <= route.end_time for a in attempts)


async def test_the_provider_receives_the_trace_of_its_attempt(suite: TracedSuite) -> None:
    """The simulator, called over real HTTP through the OpenAI adapter, got a traceparent
    with the client's trace id whose parent is the router's provider.http span."""
    await suite.route(TRACEPARENT)
    spans = suite.router_spans.get_finished_spans()
    http_span_of: dict[str, int] = {}
    for http in named(spans, "provider.http"):
        attempt = next(s for s in spans if s.context.span_id == parent_of(http))
        http_span_of[attempt.attributes["switchyard.model"]] = http.context.span_id
    for model in ("poor", "good"):
        [header] = await suite.traceparents(model)
        trace_id, parent = traceparent_ids(header)
        assert trace_id == CLIENT_TRACE_ID
        assert parent == http_span_of[model]


async def test_the_verifiers_span_joins_the_trace_through_grpc_metadata(
    suite: TracedSuite,
) -> None:
    """The verifier service (its own tracer, its own exporter) records its Verify span in
    the client's trace, as a child of the router's verification span."""
    await suite.route(TRACEPARENT)
    router_spans = suite.router_spans.get_finished_spans()
    verifications = {s.context.span_id for s in named(router_spans, "verification")}
    verifier_spans = named(suite.verifier_spans.get_finished_spans(), VERIFY_RPC)
    assert len(verifier_spans) == 2
    for span in verifier_spans:
        assert span.kind is SpanKind.SERVER
        assert span.context.trace_id == CLIENT_TRACE_ID
        assert parent_of(span) in verifications
        assert span.resource.attributes["service.name"] == "verifier"


@pytest.mark.parametrize(
    "header",
    [
        "00-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-00f067aa0ba902b7-01",  # not hex
        f"00-{0:032x}-{CLIENT_SPAN_ID:016x}-01",  # all-zero trace id
        "garbage",
        f"00-{CLIENT_TRACE_ID:032x}-{CLIENT_SPAN_ID:016x}",  # no flags
    ],
)
async def test_a_malformed_traceparent_starts_a_new_trace(suite: TracedSuite, header: str) -> None:
    """A traceparent that is not W3C Trace Context is ignored: the route is answered, its
    server span is a root of a fresh trace, and the provider sees that new trace."""
    response = await suite.route(header)
    assert response.model_id == "good"
    spans = suite.router_spans.get_finished_spans()
    server = only(spans, ROUTE_RPC)
    assert server.parent is None
    trace_id = server.context.trace_id
    assert trace_id not in (0, CLIENT_TRACE_ID)
    assert {s.context.trace_id for s in spans} == {trace_id}
    [provider_header] = await suite.traceparents("good")
    assert traceparent_ids(provider_header)[0] == trace_id


async def test_without_a_traceparent_each_route_is_its_own_trace(suite: TracedSuite) -> None:
    """No metadata: every Route() starts a trace of its own, still carried downstream."""
    await suite.route()
    await suite.route()
    servers = named(suite.router_spans.get_finished_spans(), ROUTE_RPC)
    assert len(servers) == 2 and all(s.parent is None for s in servers)
    assert servers[0].context.trace_id != servers[1].context.trace_id
    headers = await suite.traceparents("good")
    assert [traceparent_ids(h)[0] for h in headers] == [s.context.trace_id for s in servers]


async def test_ensemble_members_are_attempts_under_the_route(suite: TracedSuite) -> None:
    """A parallel route's members run in tasks of their own; their attempt spans still
    hang under the route span (tasks copy the context), and the verifier's Rank joins."""
    await suite.route(TRACEPARENT, metadata={"case": "parallel"})
    spans = suite.router_spans.get_finished_spans()
    route = only(spans, "route")
    assert route.attributes["switchyard.rule"] == "ensemble"
    attempts = named(spans, "attempt")
    assert sorted(a.attributes["switchyard.model"] for a in attempts) == ["good", "poor"]
    assert all(parent_of(a) == route.context.span_id for a in attempts)
    ranks = named(suite.verifier_spans.get_finished_spans(), RANK_RPC)
    assert ranks and all(s.context.trace_id == CLIENT_TRACE_ID for s in ranks)


async def test_bad_input_is_recorded_as_the_callers_error(suite: TracedSuite) -> None:
    """INVALID_ARGUMENT: the server span ends (not leaked) with the code, but without an
    error status (OpenTelemetry's RPC conventions: the caller erred, not the server);
    no model was called."""
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await suite.stub.Route(
            router_pb2.RouteRequest(), metadata=(("traceparent", TRACEPARENT),), timeout=10
        )
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    spans = suite.router_spans.get_finished_spans()
    server = only(spans, ROUTE_RPC)
    assert server.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert server.status.status_code is StatusCode.UNSET
    assert not named(spans, "attempt")


async def test_a_route_every_model_fails_is_an_error_down_to_each_provider_call(
    suite: TracedSuite,
) -> None:
    """Both models answer HTTP 503: each provider.http span has the status code and an
    error status, each attempt says server_error, and the UNAVAILABLE route's server
    span is an error."""
    for model in ("poor", "good"):
        suite.sim.model(model).faults = parse_faults(
            {"error_rate": 1.0, "error_status": 503}, base_error_rate=0.0
        )
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await suite.route(TRACEPARENT)
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    spans = suite.router_spans.get_finished_spans()
    assert only(spans, ROUTE_RPC).status.status_code is StatusCode.ERROR
    calls = named(spans, "provider.http")
    assert calls and all(c.attributes["http.response.status_code"] == 503 for c in calls)
    assert all(c.status.status_code is StatusCode.ERROR for c in calls)
    attempts = named(spans, "attempt")
    assert {a.attributes["switchyard.outcome"] for a in attempts} == {"server_error"}
    assert not named(spans, "verification")


async def test_with_tracing_off_nothing_is_recorded_or_forwarded(tmp_path: Path) -> None:
    """Off (no endpoint, the default): no spans anywhere, and the client's traceparent is
    not passed on: the provider's request carries no trace header at all."""
    async with traced_suite(tmp_path, traced=False) as off:
        response = await off.route(TRACEPARENT)
        assert response.model_id == "good"
        assert await off.traceparents("poor") == []
        assert await off.traceparents("good") == []
        assert off.router_spans.get_finished_spans() == ()
        assert off.verifier_spans.get_finished_spans() == ()
