"""The sticky canary key: tenant, else idempotency key, else session id, else request id."""

from __future__ import annotations

from pathlib import Path

import grpc

from services.router.canary_key import SESSION_METADATA_KEY, sticky_key
from services.router.plan import RouteInput
from services.router.providers.base import ChatTurn
from services.router.testing import POLICY
from services.simulator.testing import RunningSimulator
from switchyard.router.v1 import router_pb2, router_pb2_grpc

from .conftest import start_router
from .test_state import split_snapshot

SYSTEM = ChatTurn("system", "You are a helpful assistant for Example Corp.")
REQUESTS = 1000


def route_input(**fields: object) -> RouteInput:
    return RouteInput(messages=(SYSTEM, ChatTurn("user", "hello")), **fields)  # type: ignore[arg-type]


def test_key_prefers_tenant_then_idempotency_then_session_then_request() -> None:
    """Each source wins over the ones after it, and sources never collide."""
    everything = route_input(
        tenant="acme", idempotency_key="k1", metadata={SESSION_METADATA_KEY: "s1"}
    )
    assert sticky_key(everything, request_id="r1") == "tenant:acme"
    no_tenant = route_input(idempotency_key="k1", metadata={SESSION_METADATA_KEY: "s1"})
    assert sticky_key(no_tenant, request_id="r1") == "idempotency:k1"
    session_only = route_input(metadata={SESSION_METADATA_KEY: "s1"})
    assert sticky_key(session_only, request_id="r1") == "session:s1"
    assert sticky_key(route_input(), request_id="r1") == "request:r1"
    # The same text as tenant and as session is two different cohorts.
    assert sticky_key(route_input(tenant="x"), request_id="") != sticky_key(
        route_input(metadata={SESSION_METADATA_KEY: "x"}), request_id=""
    )


async def test_ten_percent_canary_gets_about_ten_percent_of_shared_prompt_requests(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """1,000 Plan() calls sharing a system prompt, no tenant: the 10 % canary gets ~10 %
    of them (the first-message key gave it 0), while a session id keeps one version."""
    app, server = await start_router(simulator, tmp_path, policy=POLICY)
    app.state.apply_snapshot(split_snapshot(10.0))
    messages = [
        router_pb2.ChatMessage(role="system", content=SYSTEM.content),
        router_pb2.ChatMessage(role="user", content="Explain how B-trees stay balanced."),
    ]
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)

            async def version_of(**fields: object) -> int:
                request = router_pb2.RouteRequest(messages=messages, **fields)  # type: ignore[arg-type]
                plan = await stub.Plan(router_pb2.PlanRequest(request=request))
                return plan.policy_version

            versions = [await version_of() for _ in range(REQUESTS)]
            canary = versions.count(2)
            # Binomial(1000, 0.1): mean 100, sd 9.5; this band fails ~1 run in 10^6.
            assert 50 <= canary <= 150, canary
            sessions = {
                await version_of(metadata={SESSION_METADATA_KEY: "conversation-7"})
                for _ in range(20)
            }
            assert len(sessions) == 1
    finally:
        await server.stop(0)
        await app.close()
