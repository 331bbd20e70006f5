"""Every finished Route(), answered or refused, reaches the route observers once."""

from __future__ import annotations

import time

import grpc
import pytest

from services.router.observers import OBSERVER_FAILURES, RouteTrace
from services.router.testing import ask
from switchyard.router.v1 import router_pb2
from tests.router.conftest import RouterHarness


class Recorder:
    def __init__(self) -> None:
        self.traces: list[RouteTrace] = []

    def observe(self, trace: RouteTrace) -> None:
        self.traces.append(trace)


class Broken:
    def observe(self, trace: RouteTrace) -> None:
        raise RuntimeError("observer bug")


async def test_an_answered_route_is_observed_with_its_plan_result_and_request_id(
    router: RouterHarness,
) -> None:
    seen = Recorder()
    router.app.observe(seen)
    reply = await router.stub.Route(ask(), metadata=(("x-request-id", "req-42"),))
    assert reply.request_id == "req-42"
    [trace] = seen.traces
    assert trace.request_id == "req-42" and trace.finished
    assert trace.code is grpc.StatusCode.OK and trace.response is not None
    assert trace.rule == reply.rule and trace.policy_version == reply.policy_version == 1
    assert trace.plan is not None and trace.plan.rule.name == reply.rule
    assert trace.result is not None and trace.result.model_id == reply.model_id
    assert trace.request is not None and trace.request.messages[0].content.startswith("Explain")
    assert not trace.canary and trace.latency_ms > 0


async def test_a_request_without_an_id_gets_a_fresh_one(router: RouterHarness) -> None:
    """Fresh ids are distinct and start with the time in milliseconds (hex), so later
    ones sort after earlier ones (the decision log's index appends)."""
    before_ms = time.time_ns() // 1_000_000
    first = await router.stub.Route(ask())
    second = await router.stub.Route(ask())
    assert len(first.request_id) == 28 and first.request_id != second.request_id
    assert int(first.request_id[:12], 16) >= before_ms
    assert first.request_id[:12] <= second.request_id[:12] <= f"{time.time_ns() // 1_000_000:012x}"


async def test_a_refused_route_is_observed_with_its_status(router: RouterHarness) -> None:
    seen = Recorder()
    router.app.observe(seen)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await router.stub.Route(router_pb2.RouteRequest())
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    [trace] = seen.traces
    assert trace.code is grpc.StatusCode.INVALID_ARGUMENT and trace.error
    assert trace.response is None and trace.plan is None and trace.finished


async def test_an_observer_that_raises_never_fails_the_route(router: RouterHarness) -> None:
    seen = Recorder()
    router.app.observe(Broken())
    router.app.observe(seen)
    before = OBSERVER_FAILURES.count
    reply = await router.stub.Route(ask())
    assert reply.answer and OBSERVER_FAILURES.count == before + 1
    assert len(seen.traces) == 1
