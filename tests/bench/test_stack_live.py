"""The bench's stack end to end: the suite with two routers sharing a port, each
exporting its counters, and the counts adding up across them."""

from __future__ import annotations

from pathlib import Path

import grpc
import yaml

from bench.plan import build_policy, check_scenarios, request_for
from bench.scenarios import SCENARIOS
from bench.stack import BASE_POLICY_FILE, FLEET_FILE, start_stack
from bench.stats import count_delta
from switchyard.router.v1 import router_pb2


async def test_two_routers_share_a_port_and_their_counts_add_up(tmp_path: Path) -> None:
    """Both routers run on one port; Route() calls over several connections are each
    counted once by one of them; stopping one leaves the other serving."""
    scenarios = check_scenarios(SCENARIOS)
    models = [m["id"] for m in yaml.safe_load(FLEET_FILE.read_text())]
    policy, _ = build_policy(BASE_POLICY_FILE.read_text(), scenarios, models)
    stack = await start_stack(
        tmp_path, policy, routers=2, router_args=("--verifier-mode", "embedded")
    )
    try:
        assert stack.live_routers() == ["router", "router-2"]
        request = request_for(scenarios[1])
        before = await stack.router_counts()
        for _ in range(6):  # fresh connections: the kernel picks a router for each
            async with grpc.aio.insecure_channel(stack.router_address) as channel:
                route = channel.unary_unary(
                    "/switchyard.router.v1.RouterService/Route",
                    request_serializer=router_pb2.RouteRequest.SerializeToString,
                    response_deserializer=router_pb2.RouteResponse.FromString,
                )
                for _ in range(5):
                    reply = await route(request, timeout=10)
                    assert reply.rule == "bench-single" and reply.model_id == "instant"
        assert count_delta(before, await stack.router_counts()) == {"OK": 30}
        await stack.stop_router("router-2")
        assert stack.live_routers() == ["router"]
        async with grpc.aio.insecure_channel(stack.router_address) as channel:
            route = channel.unary_unary(
                "/switchyard.router.v1.RouterService/Route",
                request_serializer=router_pb2.RouteRequest.SerializeToString,
                response_deserializer=router_pb2.RouteResponse.FromString,
            )
            assert (await route(request, timeout=10)).model_id == "instant"
    finally:
        await stack.close()
