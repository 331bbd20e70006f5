"""Two in-process routers following a real control plane: one's outcomes become the
other's starting estimates, and a breaker it opens is held open at the other."""

from __future__ import annotations

from pathlib import Path

import grpc

from services.router.app import build_router
from services.router.breakers import BreakerState
from services.router.state import RouterState
from services.router.testing import POLICY, ask, feed
from services.simulator.testing import RunningSimulator
from switchyard.router.v1 import router_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import start_server
from tests.controlplane.cp_harness import eventually, start_control_plane, stop_control_plane

UNREACHABLE_REGISTRY = "127.0.0.1:9"  # the fleet comes from feed(); the watch just retries


async def test_a_new_router_starts_from_the_fleets_estimates_and_breakers(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """Router A routes 12 requests; router B, which routed none, soon holds A's outcome
    counts as the fleet's; A's breaker opening makes B refuse the model too."""
    cp = await start_control_plane(tmp_path / "cp.db")
    apps, servers = [], []
    try:
        await cp.publish(POLICY, activate=True)
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            state = RouterState(str(tmp_path / name))
            feed(state, simulator.base_url)
            app = build_router(state=state, environ={}, review_dir=str(tmp_path / name))
            app.follow(
                registry_address=UNREACHABLE_REGISTRY,
                controlplane_address=f"127.0.0.1:{cp.server.port}",
                router_id=name,
            )
            apps.append(app)
            servers.append(
                await start_server(
                    name="router", config=ServerConfig(port=0), register=app.register
                )
            )
        a, b = apps
        async with grpc.aio.insecure_channel(f"127.0.0.1:{servers[0].port}") as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)
            for _ in range(12):
                await stub.Route(ask(), timeout=5)
        ((model, task),) = [k for k in a.estimates.figures() if k[0] == "small"]

        async def b_has_the_fleets_figures() -> bool:
            return b.estimates.estimate(model, task, 0.5).outcomes >= 12

        await eventually(b_has_the_fleets_figures)
        assert b.estimates.figures() == {}  # none of its own: all of it is the fleet's
        assert b.estimates.acceptance(model, task, 0.5) > 0.5  # the fleet saw it accept

        for _ in range(4):
            a.breakers.get("small").record(success=False, duration_s=0.01)
        assert a.breakers.get("small").state is BreakerState.OPEN

        async def b_refuses() -> bool:
            return b.breakers.get("small").state is BreakerState.OPEN

        await eventually(b_refuses)
        assert b.breakers.get("small").fleet_held
    finally:
        for server in servers:
            await server.stop(0)
        for app in apps:
            await app.close()
        await stop_control_plane(cp)
