"""The decision log over a real router (gRPC, HTTP to the simulator) and real SQLite files:
every Route() answered, degraded or failed is one record; feedback labels them."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.router.app import build_router
from services.router.decision_log import DecisionOutcome, build_redactor
from services.router.decision_log.query import DecisionFilter, DecisionReader
from services.router.decision_log.record import _models as record_models
from services.router.decision_log.store import COLUMNS
from services.router.decision_log.writer import DROPPED
from services.router.execution import AttemptOutcome, AttemptRecord
from services.router.observers import RouteTrace
from services.router.state import RouterState
from services.router.tenants import TenantGrant, TenantTokens
from services.router.testing import POLICY, ask, feed
from services.simulator.faults import FaultSettings
from services.simulator.testing import RunningSimulator
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import start_server
from tests.router.decision_harness import LoggedRouter, logged_router

STATIC = POLICY + "degrade: {static_answer: 'Please try again later.'}\n"


@pytest.fixture
async def router(simulator: RunningSimulator, tmp_path: Path) -> AsyncIterator[LoggedRouter]:
    async for r in logged_router(simulator, tmp_path):
        yield r


@pytest.fixture
async def degrading_router(
    simulator: RunningSimulator, tmp_path: Path
) -> AsyncIterator[LoggedRouter]:
    async for r in logged_router(simulator, tmp_path, policy=STATIC):
        yield r


@pytest.fixture
async def capturing_router(
    simulator: RunningSimulator, tmp_path: Path
) -> AsyncIterator[LoggedRouter]:
    redact = build_redactor([r"secret-\d+"])
    async for r in logged_router(simulator, tmp_path, capture_text=True, redact=redact):
        yield r


def violations(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            return [v.field for v in bad.field_violations]
    return []


async def test_an_answered_route_is_one_record_matching_its_response(router: LoggedRouter) -> None:
    """The record holds who, the rule, selector, executor, policy, candidates with their
    expected figures, every attempt and the totals the client saw; no prompt text."""
    reply = await router.stub.Route(ask(tenant="acme", tier="pro"))
    [logged] = await router.decisions()
    d = logged.decision
    assert d.request_id == reply.request_id and d.outcome is DecisionOutcome.ANSWERED
    assert (d.tenant, d.tier, d.task_type) == ("acme", "pro", "chat")
    assert d.rule == reply.rule and d.strategy == reply.strategy == "cascade"
    assert d.selector == "static" and d.policy_version == reply.policy_version == 1
    assert not d.canary and not d.shadow and d.code == "OK" and d.error == ""
    assert d.model_id == reply.model_id and d.cost_micros == reply.total_cost_micros > 0
    assert d.attempts == len(reply.attempts) and d.escalations == reply.escalations
    assert (d.input_tokens, d.output_tokens) == (reply.input_tokens, reply.output_tokens)
    assert d.expected_cost_micros is not None and d.expected_latency_ms is not None
    # The trace ends a few statements after the response's figure is taken (whole ms);
    # on a loaded machine milliseconds can pass between the two.
    assert -1 <= d.latency_ms - reply.total_latency_ms <= 25
    assert [c["model_id"] for c in d.detail["candidates"]] == ["small", "large"]
    assert all("max_cost_micros" in c and "drop" in c for c in d.detail["candidates"])
    [attempt] = d.detail["attempts"]
    assert attempt["model_id"] == reply.attempts[0].model_id and attempt["outcome"] == "ok"
    assert attempt["verdict"] == "accept" and attempt["cost_micros"] == reply.total_cost_micros
    assert "messages" not in d.detail and "answer" not in d.detail
    # The log builds rows straight from the trace; Decision.row (what tools and tests
    # write) encodes a decision the same way.
    with closing(sqlite3.connect(router.path)) as db:
        stored = db.execute(f"SELECT {', '.join(COLUMNS)} FROM decisions").fetchone()
    assert d.row() == stored


async def test_a_failed_route_is_recorded_with_the_attempts_it_made(router: LoggedRouter) -> None:
    """Every model failing: the caller gets UNAVAILABLE, the log the error and each attempt."""
    for name in ("small", "large"):
        router.sim.model(name).faults = FaultSettings(error_rate=1.0, error_status=500)
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await router.stub.Route(ask(), metadata=(("x-request-id", "doomed-1"),))
    assert failed.value.code() is grpc.StatusCode.UNAVAILABLE
    [logged] = await router.decisions()
    d = logged.decision
    assert d.request_id == "doomed-1" and d.outcome is DecisionOutcome.FAILED
    assert d.code == "UNAVAILABLE" and "no model produced" in d.error
    assert d.model_id == "" and d.attempts >= 2
    assert {a["model_id"] for a in d.detail["attempts"]} == {"small", "large"}
    assert all(a["outcome"] == "server_error" for a in d.detail["attempts"])
    assert d.escalations == 1 and d.slo_met in (None, False)


async def test_a_refused_request_is_recorded_as_failed_without_a_plan(
    router: LoggedRouter,
) -> None:
    """Bad input never reached planning: one failed record, INVALID_ARGUMENT, no candidates."""
    with pytest.raises(grpc.aio.AioRpcError):
        await router.stub.Route(router_pb2.RouteRequest())
    [logged] = await router.decisions()
    assert logged.decision.code == "INVALID_ARGUMENT"
    assert logged.decision.outcome is DecisionOutcome.FAILED
    assert logged.decision.detail["candidates"] == [] and logged.decision.rule == ""


async def test_a_degraded_route_is_recorded_as_degraded(degrading_router: LoggedRouter) -> None:
    """The static answer after every stage failed: degraded, OK to the caller, attempts kept."""
    for name in ("small", "large"):
        degrading_router.sim.model(name).faults = FaultSettings(error_rate=1.0, error_status=500)
    reply = await degrading_router.stub.Route(ask())
    assert reply.degraded and reply.finish_reason == "static"
    [logged] = await degrading_router.decisions()
    d = logged.decision
    assert d.outcome is DecisionOutcome.DEGRADED and d.code == "OK"
    assert d.attempts == len(reply.attempts) >= 2 and d.detail["finish_reason"] == "static"


async def test_filters_pick_decisions_by_tenant_model_and_outcome(router: LoggedRouter) -> None:
    """Filters narrow by tenant, by a model tried, and by outcome."""
    await router.stub.Route(ask(tenant="acme"))
    router.sim.model("small").faults = FaultSettings(error_rate=1.0, error_status=500)
    await router.stub.Route(ask(tenant="globex"))
    await router.decisions()
    reader = DecisionReader(router.path)
    assert [x.decision.tenant for x in reader.decisions(DecisionFilter(tenant="acme"))] == ["acme"]
    # globex's route tried small and was answered by large: both names match it.
    assert [x.decision.tenant for x in reader.decisions(DecisionFilter(model="large"))] == [
        "globex"
    ]
    assert len(reader.decisions(DecisionFilter(model="small"))) == 2
    assert reader.decisions(DecisionFilter(model="smal")) == []
    assert reader.decisions(DecisionFilter(outcome=DecisionOutcome.FAILED)) == []


async def test_feedback_labels_a_decision_still_in_the_write_queue(router: LoggedRouter) -> None:
    """RecordFeedback right after Route: the feedback waits for the decision to be written."""
    reply = await router.stub.Route(ask())
    answer = await router.stub.RecordFeedback(
        router_pb2.RecordFeedbackRequest(request_id=reply.request_id, label=0.25, source="human")
    )
    assert (answer.request_id, answer.decisions, answer.source) == (reply.request_id, 1, "human")
    await router.stub.RecordFeedback(
        router_pb2.RecordFeedbackRequest(request_id=reply.request_id, label=1.0)
    )
    [logged] = await router.decisions()
    assert {(lb.source, lb.label) for lb in logged.labels} == {("human", 0.25), ("api", 1.0)}
    assert logged.label is not None and logged.label.source == "api"


async def test_feedback_from_the_same_source_replaces_the_earlier_label(
    router: LoggedRouter,
) -> None:
    reply = await router.stub.Route(ask())
    for label in (0.0, 0.75):
        await router.stub.RecordFeedback(
            router_pb2.RecordFeedbackRequest(request_id=reply.request_id, label=label, source="x")
        )
    [logged] = await router.decisions()
    assert [(lb.source, lb.label) for lb in logged.labels] == [("x", 0.75)]


async def test_feedback_for_an_unknown_request_is_not_found(router: LoggedRouter) -> None:
    await router.stub.Route(ask())
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await router.stub.RecordFeedback(
            router_pb2.RecordFeedbackRequest(request_id="never-routed", label=1.0)
        )
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    assert "never-routed" in (missing.value.details() or "")


@pytest.mark.parametrize(
    ("request_kw", "field"),
    [
        ({"request_id": "r", "label": 1.5}, "label"),
        ({"request_id": "r", "label": -0.01}, "label"),
        ({"request_id": "r", "label": float("nan")}, "label"),
        ({"request_id": "r"}, "label"),
        ({"label": 0.5}, "request_id"),
        ({"request_id": "r" * 129, "label": 0.5}, "request_id"),
        ({"request_id": "r", "label": 0.5, "source": "s" * 65}, "source"),
    ],
)
async def test_bad_feedback_is_invalid_argument_with_a_field_violation(
    router: LoggedRouter, request_kw: dict[str, object], field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await router.stub.RecordFeedback(router_pb2.RecordFeedbackRequest(**request_kw))  # type: ignore[arg-type]
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violations(bad.value) == [field]


async def test_feedback_without_a_decision_log_is_failed_precondition(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """A router with its log off says so rather than pretend the label was kept."""
    state = RouterState(str(tmp_path))
    feed(state, simulator.base_url)
    app = build_router(state=state, environ={})
    server = await start_server(name="router", config=ServerConfig(port=0), register=app.register)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as off:
                await stub.RecordFeedback(
                    router_pb2.RecordFeedbackRequest(request_id="r", label=0.5)
                )
        assert off.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    finally:
        await server.stop(0.5)
        await app.close()


async def test_captured_text_goes_through_the_redaction_hook(
    capturing_router: LoggedRouter,
) -> None:
    """With capture on, prompt and answer are stored, the e-mail and the operator's
    pattern replaced."""
    await capturing_router.stub.Route(
        ask("Explain indexes to ana@example.com, ticket secret-4411, in a few sentences.")
    )
    [logged] = await capturing_router.decisions()
    [message] = logged.decision.detail["messages"]
    assert message["role"] == "user"
    assert "ana@example.com" not in message["content"] and "secret-4411" not in message["content"]
    assert message["content"].count("[redacted]") == 2
    assert logged.decision.detail["answer"]


async def test_shadow_decisions_sit_beside_the_routed_one(router: LoggedRouter) -> None:
    """record_shadow writes a flagged record that `find` returns after the routed one and
    that list filters keep apart."""
    reply = await router.stub.Route(ask())
    shadow = RouteTrace.start(f"{reply.request_id}/shadow-v2")
    shadow.policy_version, shadow.rule = 2, "candidate"
    shadow.finish()
    assert router.app.decision_log is not None
    router.app.decision_log.record_shadow(shadow, shadow_of=reply.request_id)
    assert len(await router.decisions()) == 1
    reader = DecisionReader(router.path)
    [shadowed] = reader.decisions(DecisionFilter(shadow=True))
    assert shadowed.decision.shadow_of == reply.request_id
    assert [x.decision.shadow for x in reader.find(reply.request_id)] == [False, True]


async def test_a_full_queue_drops_and_counts_instead_of_waiting(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """Past queue_size waiting decisions, observe() drops: the request path never blocks."""
    async for r in logged_router(simulator, tmp_path, queue_size=5):
        assert r.app.decision_log is not None
        trace = RouteTrace.start("burst")
        trace.finish()
        before = DROPPED._value.get()
        for _ in range(5000):
            r.app.decision_log.observe(trace)
            assert r.app.decision_log.waiting <= 5
        dropped = DROPPED._value.get() - before
        written = len(await r.decisions())
        assert dropped > 0 and dropped + written == 5000


async def test_with_caller_tokens_a_tenant_labels_only_its_own_decisions(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """Tenant globex's token cannot label acme's decision: NOT_FOUND, as for an unknown id."""
    tokens = TenantTokens.from_tokens(
        {
            "acme-token": TenantGrant("acme", frozenset({"free"}), "free"),
            "globex-token": TenantGrant("globex", frozenset({"free"}), "free"),
        }
    )
    async for r in logged_router(simulator, tmp_path, tenants=tokens):
        acme = (("authorization", "Bearer acme-token"),)
        globex = (("authorization", "Bearer globex-token"),)
        reply = await r.stub.Route(ask(), metadata=acme)
        label = router_pb2.RecordFeedbackRequest(request_id=reply.request_id, label=1.0)
        with pytest.raises(grpc.aio.AioRpcError) as foreign:
            await r.stub.RecordFeedback(label, metadata=globex)
        assert foreign.value.code() is grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await r.stub.RecordFeedback(label)
        assert anonymous.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert (await r.stub.RecordFeedback(label, metadata=acme)).decisions == 1


STALE = """
name: stale
max_deadline_ms: 5000
budget_micros: 100000
retry: {max_retries: 0}
checks: [{name: non_empty}, {name: length, params: {min_chars: 20}}]
degrade: {stale_cache: true}
default:
  name: cached
  strategy: {kind: single, model: small}
  cache: {ttl_s: 0.3, max_entries: 4}
"""


async def test_a_stale_cache_answer_keeps_the_attempts_that_failed_before_it(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """Past the TTL with the model failing, the expired answer is served degraded; its
    record still lists the failed attempt that led there."""
    async for r in logged_router(simulator, tmp_path, policy=STALE):
        await r.stub.Route(ask())
        await asyncio.sleep(0.35)
        r.sim.model("small").faults = FaultSettings(error_rate=1.0, error_status=503)
        reply = await r.stub.Route(ask())
        assert reply.degraded and reply.cache_hit
        newest = (await r.decisions())[0].decision
        assert newest.outcome is DecisionOutcome.DEGRADED and newest.cache_hit
        assert [a["outcome"] for a in newest.detail["attempts"]] == ["server_error"]
        assert newest.models == ("small",)


async def test_a_decision_is_written_soon_without_any_flush(router: LoggedRouter) -> None:
    """One quiet request: its batch timer hands it to the writer within moments, nobody
    has to ask (no feedback, no shutdown)."""
    reply = await router.stub.Route(ask())
    for _ in range(100):
        await asyncio.sleep(0.02)
        if router.path.exists() and DecisionReader(router.path).find(reply.request_id):
            break
    assert [x.decision.request_id for x in DecisionReader(router.path).find(reply.request_id)] == [
        reply.request_id
    ]


def _attempt(model: str) -> AttemptRecord:
    return AttemptRecord(model_id=model, stage=0, retry=0, outcome=AttemptOutcome.OK)


@pytest.mark.parametrize(
    ("called", "answered_by", "stored"),
    [
        (["small"], "small", " small "),  # the common route, built without a dict
        (["small"], "large", " small large "),
        (["small", "small", "large"], "large", " small large "),
        ([], "small", " small "),  # a cache hit calls nothing
        ([], "", "  "),  # refused before any call
    ],
)
def test_the_models_column_lists_each_model_once_with_spaces_around(
    called: list[str], answered_by: str, stored: str
) -> None:
    models = record_models([_attempt(m) for m in called], answered_by)
    assert models == stored
    assert tuple(models.split()) == tuple(
        dict.fromkeys([*called, answered_by] if answered_by else called)
    )
