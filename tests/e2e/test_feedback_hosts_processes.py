"""End to end: routers on different hosts (no shared socket directory) place feedback
for each other's decisions over `--feedback-peers`, their service ports over TCP."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio

from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.suite import Suite
from tests.suites import INSTANT_MODELS, suite_settings

POLICY = """
name: feedback-hosts
max_deadline_ms: 20000
retry: {max_retries: 0}
checks: [{name: non_empty}]
default:
  name: small-only
  strategy: {kind: single, model: small}
"""

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def suite(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Suite]:
    state = Path(tmp_path_factory.mktemp("feedback-hosts"))
    settings = suite_settings(
        state,
        simulator=INSTANT_MODELS,
        policy=POLICY,
        router_args=("--verifier-mode", "embedded"),
    )
    async with Suite(settings) as running:
        # "host B": it knows host A's router by address; nothing else is shared.
        await running.start_remote_router("router-b", "--feedback-peers", running.address("router"))
        yield running


async def call(suite: Suite, router: str, method: str, message: object) -> object:
    async with suite.channel(router) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        return await getattr(stub, method)(message, timeout=10)


async def route(suite: Suite, router: str, text: str) -> object:
    message = router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content=text)])
    return await call(suite, router, "Route", message)


async def feedback(suite: Suite, router: str, request_id: str, **fields: object) -> object:
    message = router_pb2.RecordFeedbackRequest(request_id=request_id, label=1.0, **fields)
    return await call(suite, router, "RecordFeedback", message)


async def status_of_feedback(suite: Suite, router: str, request_id: str) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await feedback(suite, router, request_id)
    return refused.value.code()


def labels(suite: Suite, router: str, request_id: str) -> list[tuple[str, float]]:
    log = suite.settings.state_dir / router / "decisions.db"
    with contextlib.closing(sqlite3.connect(f"file:{log}?mode=ro", uri=True)) as db:
        return db.execute(
            "SELECT source, label FROM feedback WHERE request_id = ?", (request_id,)
        ).fetchall()


async def test_feedback_sent_to_another_hosts_router_lands_where_it_was_routed(
    suite: Suite,
) -> None:
    reply = await route(suite, "router", "Name three rivers.")
    answer = await feedback(suite, "router-b", reply.request_id, source="qa")
    assert answer.request_id == reply.request_id and answer.decisions == 1
    assert labels(suite, "router", reply.request_id) == [("qa", 1.0)]
    assert await status_of_feedback(suite, "router-b", "no-such-request") == (
        grpc.StatusCode.NOT_FOUND
    )


async def test_a_peer_that_is_down_makes_an_unplaced_label_retryable(suite: Suite) -> None:
    """Host A's router gone: B cannot tell whether A held the id, so UNAVAILABLE (retry
    is safe), not NOT_FOUND; B's own decisions still take feedback."""
    own = await route(suite, "router-b", "Name two seas.")
    await suite.kill_service("router")
    assert await status_of_feedback(suite, "router-b", "held-by-a-maybe") == (
        grpc.StatusCode.UNAVAILABLE
    )
    assert (await feedback(suite, "router-b", own.request_id, source="qa")).decisions == 1
