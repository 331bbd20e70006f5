"""End to end with three real router processes and a real control plane process:
publishing reaches every router, one router's breaker opens the fleet's, recovery is
one probe budget for the whole fleet, operator overrides reach everyone, and routing
carries on unchanged when the control plane dies."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio

from services.router.feedback_peers import RELAYED
from switchyard.controlplane.v1 import controlplane_pb2 as cp_pb
from switchyard.router.v1 import router_pb2
from tests.fleet.harness import Fleet, start_fleet, until
from tests.suites import INSTANT_MODELS

PROBES = 2
RAMP_UP_S = 0.2
POLICY = f"""
name: fleet-e2e
max_deadline_ms: 10000
budget_micros: 100000
retry: {{max_retries: 0}}
breaker:
  window_size: 4
  minimum_calls: 4
  failure_rate_threshold: 0.5
  open_wait_ms: 1500
  max_open_wait_ms: 20000
  half_open_calls: {PROBES}
  ramp_up_ms: 200
checks: [{{name: non_empty}}]
default:
  name: cascade
  strategy: {{kind: cascade, stages: [{{model: small}}, {{model: large}}]}}
"""
# The fleet must see each within this; measured, printed, and asserted.
PUSH_LIMIT_S = 1.0

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fleet(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fleet]:
    running = await start_fleet(
        Path(tmp_path_factory.mktemp("fleet")), policy=POLICY, simulator=INSTANT_MODELS
    )
    try:
        yield running
    finally:
        await running.close()
        await running.suite.stop()


async def everywhere(fleet: Fleet, model: str, reason: str) -> bool:
    reasons = [await fleet.candidate_reason(r, model) for r in fleet.router_ids]
    return all(r == reason for r in reasons)


async def test_a_published_version_is_acked_by_all_three_within_a_second(fleet: Fleet) -> None:
    """PublishPolicy(activate) → every router ACKs the new snapshot within 1 s."""
    published = await fleet.cp.PublishPolicy(
        cp_pb.PublishPolicyRequest(
            source=POLICY.replace("name: fleet-e2e", "name: fleet-e2e-v2"),
            activate=True,
            author="test",
        )
    )

    async def acked() -> bool:
        listed = await fleet.cp.ListRouters(cp_pb.ListRoutersRequest())
        return sorted(
            r.router_id
            for r in listed.routers
            if r.up_to_date and r.active_version == published.policy.version
        ) == sorted(fleet.router_ids)

    took = await until(acked, what="all three ACK the new version")
    print(f"published version ACKed by 3 routers in {took * 1000:.0f} ms")
    assert took < PUSH_LIMIT_S


async def _load(fleet: Fleet, stop: asyncio.Event) -> None:
    """Traffic at every router, so whichever holds the lease has requests to probe with."""

    async def one(router: str) -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                await fleet.route(router)
            await asyncio.sleep(0.03)

    await asyncio.gather(*(one(r) for r in fleet.router_ids))


async def test_feedback_reaches_the_router_that_answered(fleet: Fleet) -> None:
    """Feedback sent to another router than the one that routed the request is passed to
    it over the peers' sockets: OK from every router, stored once in the answering
    router's log; an id no router holds is NOT_FOUND, and a relayed call is not passed on."""
    reply = await fleet.route("router")
    for index, other in enumerate(("router-2", "router-3")):
        answer = await fleet.routers[other].RecordFeedback(
            router_pb2.RecordFeedbackRequest(
                request_id=reply.request_id, label=0.25 * (index + 1), source=other
            ),
            timeout=10,
        )
        assert answer.request_id == reply.request_id and answer.decisions == 1
    log = fleet.suite.settings.state_dir / "router" / "decisions.db"
    with contextlib.closing(sqlite3.connect(f"file:{log}?mode=ro", uri=True)) as db:
        labels = db.execute(
            "SELECT source, label FROM feedback WHERE request_id = ? ORDER BY source",
            (reply.request_id,),
        ).fetchall()
    assert labels == [("router-2", 0.25), ("router-3", 0.5)]
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await fleet.routers["router-2"].RecordFeedback(
            router_pb2.RecordFeedbackRequest(request_id="no-such-request", label=1.0),
            timeout=10,
        )
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as one_hop:
        await fleet.routers["router-2"].RecordFeedback(
            router_pb2.RecordFeedbackRequest(request_id=reply.request_id, label=1.0),
            metadata=[(RELAYED, "1")],
            timeout=10,
        )
    assert one_hop.value.code() == grpc.StatusCode.NOT_FOUND


async def test_one_routers_failures_open_the_fleet_and_recovery_is_one_probe_budget(
    fleet: Fleet,
) -> None:
    """`small` fails; four failures at router 1 open it there, and within 1 s routers 2
    and 3 refuse it too. Under load at all three, the half-open round reaches the model
    with at most the probe budget (counted at the simulator); once `small` answers
    again, the fleet closes it and every router uses it."""
    first = fleet.router_ids[0]
    await fleet.set_faults("small", error_rate=1.0)
    for _ in range(4):
        response = await fleet.route(first)
        assert response.model_id == "large"  # the cascade escalated past the failure
    assert await fleet.candidate_reason(first, "small") == "breaker open"
    took = await until(
        lambda: everywhere(fleet, "small", "breaker open"), what="small open at every router"
    )
    print(f"breaker opened at {first} was open at the other two in {took * 1000:.0f} ms")
    assert took < PUSH_LIMIT_S
    opened = await fleet.fleet_state("small")
    assert opened is not None and opened.opened_by_router_id == first
    assert {r.router_id for r in opened.routers} >= {first}

    stop = asyncio.Event()
    load = asyncio.ensure_future(_load(fleet, stop))
    try:
        before = await fleet.requests_at("small")

        async def reopened() -> bool:
            state = await fleet.fleet_state("small")
            return (
                state is not None
                and state.state == cp_pb.FLEET_BREAKER_STATE_OPEN
                and state.open_time.ToMicroseconds() > opened.open_time.ToMicroseconds()
            )

        await until(reopened, what="the failed half-open round re-opened small")
        probes = await fleet.requests_at("small") - before
        print(f"failed half-open round: {probes} calls reached small (budget {PROBES})")
        assert 1 <= probes <= PROBES

        await fleet.clear_faults("small")
        recovering = time.monotonic()

        async def closed() -> bool:
            state = await fleet.fleet_state("small")
            return state is not None and state.state == cp_pb.FLEET_BREAKER_STATE_CLOSED

        await until(closed, what="the fleet closed small after good probes")
        # A router's passed health check ends the fleet's open wait: back fast.
        print(f"fleet closed small {time.monotonic() - recovering:.2f} s after it recovered")
        assert time.monotonic() - recovering < 2 * PUSH_LIMIT_S + 0.5
        assert await fleet.health_checks_at("small") > 0
        took = await until(
            lambda: everywhere(fleet, "small", "eligible"), what="small eligible everywhere"
        )
        assert took < PUSH_LIMIT_S
    finally:
        stop.set()
        await load


async def test_an_operator_force_open_takes_effect_everywhere_within_a_second(
    fleet: Fleet,
) -> None:
    """SetBreakerOverride FORCED_OPEN on `large` → every router drops it within 1 s;
    removing it hands `large` back."""
    started = time.monotonic()
    await fleet.cp.SetBreakerOverride(
        cp_pb.SetBreakerOverrideRequest(
            model_id="large", override=cp_pb.BREAKER_OVERRIDE_FORCED_OPEN, reason="test"
        )
    )
    await until(lambda: everywhere(fleet, "large", "breaker forced_open"), what="large forced open")
    took = time.monotonic() - started
    print(f"force-open reached 3 routers in {took * 1000:.0f} ms")
    assert took < PUSH_LIMIT_S
    await fleet.cp.SetBreakerOverride(
        cp_pb.SetBreakerOverrideRequest(model_id="large", override=cp_pb.BREAKER_OVERRIDE_NONE)
    )
    await until(lambda: everywhere(fleet, "large", "eligible"), what="large released")


async def test_killing_the_control_plane_leaves_routing_unchanged(fleet: Fleet) -> None:
    """Same plans and answers from every router before and after the control plane dies."""

    async def decisions() -> list[tuple[str, list[tuple[str, bool, str]]]]:
        out = []
        for router in fleet.router_ids:
            plan = await fleet.plan(router)
            out.append((plan.rule, [(c.model_id, c.kept, c.reason) for c in plan.candidates]))
        return out

    # Past any ramp-up after an earlier recovery, whose random admissions would differ.
    await asyncio.sleep(RAMP_UP_S * 2)
    before = await decisions()
    answered = [(await fleet.route(r)).model_id for r in fleet.router_ids]
    await fleet.suite.kill_service("controlplane")
    await asyncio.sleep(1.0)  # every stream has noticed and gone back to local breakers
    assert await decisions() == before
    assert [(await fleet.route(r)).model_id for r in fleet.router_ids] == answered
