"""End to end with two real router processes sharing a port and a ledger file (as two
routers on one host do): a tenant's budget holds under 200 concurrent requests spread
over both, duplicate idempotency keys sent to both call the model once, and feedback
lands whichever of the two it reaches."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest
import pytest_asyncio

from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.suite import Suite
from tests.suites import suite_settings

LIMIT_MICROS = 3000
SIMULATOR = """
models:
  small: {ttft_ms: 5, quality: 1.0, answer_tokens: 80}
  medium: {ttft_ms: 400, quality: 1.0, answer_tokens: 40}
  large: {ttft_ms: 5, quality: 1.0, answer_tokens: 40}
  code: {ttft_ms: 5, quality: 1.0, answer_tokens: 40}
"""
POLICY = f"""
name: spend-e2e
max_deadline_ms: 20000
budget_micros: 100000
retry: {{max_retries: 0}}
checks: [{{name: non_empty}}]
tenants:
  spender: {{limit_micros: {LIMIT_MICROS}, window_s: 86400}}
rules:
  - name: slow
    when: {{metadata: {{slow: "yes"}}}}
    strategy: {{kind: single, model: medium}}
default:
  name: small-only
  strategy: {{kind: single, model: small}}
"""
PROMPT = "Explain how a B-tree keeps itself balanced."

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def suite(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Suite]:
    state = Path(tmp_path_factory.mktemp("spend"))
    settings = suite_settings(
        state,
        simulator=SIMULATOR,
        policy=POLICY,
        routers=2,
        router_args=("--verifier-mode", "embedded"),
    )
    async with Suite(settings) as running:
        yield running


def request(**fields: object) -> router_pb2.RouteRequest:
    return router_pb2.RouteRequest(
        messages=[router_pb2.ChatMessage(role="user", content=PROMPT)], **fields
    )


async def over_connections(
    suite: Suite, message: router_pb2.RouteRequest, *, connections: int, each: int
) -> list[router_pb2.RouteResponse | grpc.aio.AioRpcError]:
    """connections x each concurrent calls; a connection lands on one router process
    (the kernel's SO_REUSEPORT pick), so many connections reach both."""
    # A local subchannel pool each: otherwise channels to one address share a connection.
    own_connection = [("grpc.use_local_subchannel_pool", 1)]
    channels = [
        grpc.aio.insecure_channel(suite.address("router"), options=own_connection)
        for _ in range(connections)
    ]
    try:
        stubs = [router_pb2_grpc.RouterServiceStub(c) for c in channels]
        calls = [stub.Route(message, timeout=30) for stub in stubs for _ in range(each)]
        return await asyncio.gather(*calls, return_exceptions=True)  # type: ignore[return-value]
    finally:
        for channel in channels:
            await channel.close()


async def simulator_requests(suite: Suite, model: str) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{suite.simulator_url}/admin/models/{model}") as reply:
            return int((await reply.json())["counters"].get("requests", 0))


def decided(suite: Suite, name: str) -> int:
    lines = suite.services[name].log_path.read_text(errors="replace").splitlines()
    return sum(1 for line in lines if '"event":"route.decided"' in line)


async def test_two_routers_never_overspend_a_tenant(suite: Suite) -> None:
    """200 requests from one tenant at once, over 20 connections to the two routers:
    the sum of what they were charged, and the shared ledger's total, stay within the
    tenant's limit; the rest are RESOURCE_EXHAUSTED; both routers took part."""
    # max_output_tokens 40 < the answers' ~80: every answer costs its worst case, so
    # reservations are as tight as they can be and the limit is what binds.
    replies = await over_connections(
        suite, request(tenant="spender", max_output_tokens=40), connections=20, each=10
    )
    answered = [r for r in replies if isinstance(r, router_pb2.RouteResponse)]
    failed = [r for r in replies if not isinstance(r, router_pb2.RouteResponse)]
    assert all(
        isinstance(e, grpc.aio.AioRpcError) and e.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        for e in failed
    ), {str(e)[:200] for e in failed}
    charged = sum(r.total_cost_micros for r in answered)
    assert answered and failed
    assert charged <= LIMIT_MICROS
    with sqlite3.connect(suite.settings.state_dir / "ledger.db") as db:
        ((spent,),) = db.execute(
            "SELECT COALESCE(SUM(spent_micros), 0) FROM budget_spend WHERE tenant = 'spender'"
        )
        ((held,),) = db.execute("SELECT COUNT(*) FROM budget_reservations")
    assert spent == charged and held == 0
    assert decided(suite, "router") > 0 and decided(suite, "router-2") > 0
    # Tight reservations leave little unused: the limit, not the router, stopped it.
    assert charged > LIMIT_MICROS * 0.8


async def test_duplicate_keys_across_routers_call_the_model_once(suite: Suite) -> None:
    """The same key sent 20 times at once over 10 connections (both routers): the slow
    model is called once and every caller gets the same answer."""
    before = await simulator_requests(suite, "medium")
    message = request(tenant="acme", idempotency_key="invoice-7", metadata={"slow": "yes"})
    replies = await over_connections(suite, message, connections=10, each=2)
    assert all(isinstance(r, router_pb2.RouteResponse) for r in replies), replies
    assert await simulator_requests(suite, "medium") - before == 1
    answers = {(r.answer, r.total_cost_micros) for r in replies}  # type: ignore[union-attr]
    assert len(answers) == 1
    assert sum(not r.idempotent_replay for r in replies) == 1  # type: ignore[union-attr]


async def test_feedback_lands_whichever_router_it_reaches(suite: Suite) -> None:
    """40 requests over 20 connections (both routers answer some), then feedback on each
    over 20 new connections: every label is accepted, although about half reach the
    router that did not answer; each router's log holds the labels of its own decisions."""
    replies = await over_connections(suite, request(tenant="acme"), connections=20, each=2)
    ids = [r.request_id for r in replies if isinstance(r, router_pb2.RouteResponse)]
    assert len(ids) == 40, replies
    assert decided(suite, "router") and decided(suite, "router-2")  # the kernel used both
    own_connection = [("grpc.use_local_subchannel_pool", 1)]
    channels = [
        grpc.aio.insecure_channel(suite.address("router"), options=own_connection)
        for _ in range(20)
    ]
    try:
        stubs = [router_pb2_grpc.RouterServiceStub(c) for c in channels]
        answers = await asyncio.gather(
            *(
                stubs[i % len(stubs)].RecordFeedback(
                    router_pb2.RecordFeedbackRequest(request_id=rid, label=1.0, source="e2e"),
                    timeout=15,
                )
                for i, rid in enumerate(ids)
            ),
            return_exceptions=True,
        )
    finally:
        for channel in channels:
            await channel.close()
    assert all(isinstance(a, router_pb2.RecordFeedbackResponse) for a in answers), answers
    stored: set[str] = set()
    for name in ("router", "router-2"):
        path = suite.settings.state_dir / name / "decisions.db"
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            stored |= {row[0] for row in db.execute("SELECT request_id FROM feedback")}
        finally:
            db.close()
    assert stored >= set(ids)
