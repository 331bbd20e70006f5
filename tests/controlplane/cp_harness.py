"""Test harness: a real ControlPlaneService on port 0 over a tmp_path SQLite database,
and a hand-driven fake router stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from controlplane.auth import interceptors
from controlplane.config import ControlPlaneConfig
from controlplane.plane import ControlPlane, KnownModels
from controlplane.servicer import registrar
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.controlplane.v1 import controlplane_pb2_grpc as pb_grpc
from switchyard.runtime.server import RunningServer, start_server

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_POLICY = (REPO / "examples" / "policy.yaml").read_text()
# Long enough for a loaded 2-core machine, short enough that a missing push fails fast.
STREAM_WAIT_S = 5.0


def policy_named(name: str) -> str:
    """The example policy with another name: valid, and different content."""
    return EXAMPLE_POLICY.replace("name: default", f"name: {name}", 1)


@dataclass
class ControlPlaneUnderTest:
    plane: ControlPlane
    server: RunningServer
    channel: grpc.aio.Channel
    stub: pb_grpc.ControlPlaneServiceStub

    async def publish(
        self, source: str, *, activate: bool = False, **kw
    ) -> pb.PublishPolicyResponse:
        return await self.stub.PublishPolicy(
            pb.PublishPolicyRequest(source=source, activate=activate, author="test", **kw)
        )


async def start_control_plane(
    db_path: Path,
    *,
    known_models: KnownModels | None = None,
    tokens: Mapping[str, tuple[str, ...]] | None = None,
) -> ControlPlaneUnderTest:
    """`tokens`: operator_tokens / router_tokens / read_tokens, to turn access control on."""
    plane = await ControlPlane.open(str(db_path), known_models=known_models)
    config = ControlPlaneConfig(port=0, db_path=str(db_path), **(tokens or {}))
    server = await start_server(
        name="controlplane",
        config=config,
        register=registrar(plane),
        interceptors=interceptors(config),
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    return ControlPlaneUnderTest(plane, server, channel, pb_grpc.ControlPlaneServiceStub(channel))


async def stop_control_plane(cp: ControlPlaneUnderTest) -> None:
    await cp.channel.close()
    await cp.server.stop(0)
    await cp.plane.close()


class RouterClient:
    """A fake router: one SubscribeRouterConfig stream it drives by hand.

    Responses are drained into a queue by a background task: cancelling a pending
    `call.read()` (as a timeout would) cancels the whole RPC in grpc.aio.
    """

    def __init__(self, stub: pb_grpc.ControlPlaneServiceStub, router_id: str) -> None:
        self.router_id = router_id
        self.call = stub.SubscribeRouterConfig()
        self._received: asyncio.Queue[pb.RouterConfigSnapshot | BaseException] = asyncio.Queue()
        # Fleet-only messages (breaker view, estimates), apart from the snapshots.
        self.fleet: asyncio.Queue[pb.SubscribeRouterConfigResponse] = asyncio.Queue()
        self._drain = asyncio.ensure_future(self._read_all())

    async def _read_all(self) -> None:
        try:
            async for response in self.call:
                if response.HasField("snapshot"):
                    await self._received.put(response.snapshot)
                if response.HasField("fleet_breakers") or response.HasField("fleet_estimates"):
                    await self.fleet.put(response)
        except BaseException as exc:
            await self._received.put(exc)
            return
        await self._received.put(EOFError("stream ended"))

    async def hello(self) -> None:
        await self.call.write(pb.SubscribeRouterConfigRequest(router_id=self.router_id))

    async def next_snapshot(self, wait_s: float = STREAM_WAIT_S) -> pb.RouterConfigSnapshot:
        item = await asyncio.wait_for(self._received.get(), wait_s)
        if isinstance(item, BaseException):
            raise item
        return item

    async def ack(self, snapshot: pb.RouterConfigSnapshot) -> None:
        await self.call.write(
            pb.SubscribeRouterConfigRequest(
                router_id=self.router_id,
                ack=pb.ConfigAck(version=snapshot.version, nonce=snapshot.nonce),
            )
        )

    async def nack(self, snapshot: pb.RouterConfigSnapshot, error: str) -> None:
        await self.call.write(
            pb.SubscribeRouterConfigRequest(
                router_id=self.router_id,
                nack=pb.ConfigNack(
                    version=snapshot.version, nonce=snapshot.nonce, error_detail=error
                ),
            )
        )

    async def report(self, report: pb.RouterReport) -> None:
        await self.call.write(pb.SubscribeRouterConfigRequest(report=report))

    async def next_fleet(
        self, field: str, wait_s: float = STREAM_WAIT_S
    ) -> pb.SubscribeRouterConfigResponse:
        """The next fleet message carrying `field` ("fleet_breakers" / "fleet_estimates")."""
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            left = deadline - asyncio.get_running_loop().time()
            response = await asyncio.wait_for(self.fleet.get(), max(left, 0.001))
            if response.HasField(field):
                return response

    def close(self) -> None:
        self.call.cancel()
        self._drain.cancel()


async def eventually(
    check: Callable[[], Awaitable[bool]], *, wait_s: float = STREAM_WAIT_S
) -> None:
    """Poll an async predicate until it holds; replies are recorded asynchronously."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.02)
