"""Long-lived streams that keep the router's local copies current.

Both loops reconnect forever with capped exponential backoff; while disconnected
the router keeps serving on what it already holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc
import structlog

from services.router.artefact_cache import ArtefactFetcher
from services.router.fleet_reports import FleetReporting, NonceSource
from services.router.state import RouterState
from switchyard.controlplane.v1 import controlplane_pb2, controlplane_pb2_grpc
from switchyard.registry.v1 import registry_pb2, registry_pb2_grpc
from switchyard.runtime.errors import InvalidArgument

log = structlog.get_logger(__name__)

MIN_BACKOFF_S = 0.1
MAX_BACKOFF_S = 5.0


async def watch_fleet(
    channel: grpc.aio.Channel, state: RouterState, *, metadata: Sequence[tuple[str, str]] = ()
) -> None:
    stub = registry_pb2_grpc.RegistryServiceStub(channel)
    backoff = MIN_BACKOFF_S
    streamed = False  # the first stream of this process asks for a full snapshot
    while True:
        since = state.fleet.revision if streamed else 0
        try:
            call = stub.WatchModels(
                registry_pb2.WatchModelsRequest(since_revision=since), metadata=tuple(metadata)
            )
            async for event in call:
                if event.HasField("snapshot"):
                    state.apply_fleet_snapshot(event.snapshot)
                else:
                    state.apply_fleet_change(event.change)
                streamed = True
                backoff = MIN_BACKOFF_S
            log.warning("fleet.watch_ended")
        except grpc.aio.AioRpcError as exc:
            log.warning("fleet.watch_failed", code=exc.code().name, retry_in_s=backoff)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_S)


async def subscribe_config(
    channel: grpc.aio.Channel,
    state: RouterState,
    *,
    router_id: str,
    metadata: Sequence[tuple[str, str]] = (),
    fleet: FleetReporting | None = None,
    artefacts: ArtefactFetcher | None = None,
) -> None:
    """Follow the control plane: snapshots in (ACK/NACK out), and with `fleet`, breaker
    and estimate reports out and the fleet view in. One writer task sends everything,
    since grpc.aio allows one pending write per call. A snapshot whose artefacts cannot
    be fetched and verified is NACKed without touching the policy in force."""
    stub = controlplane_pb2_grpc.ControlPlaneServiceStub(channel)
    backoff = MIN_BACKOFF_S
    while True:
        call = stub.SubscribeRouterConfig(metadata=tuple(metadata))
        outbox: asyncio.Queue[controlplane_pb2.SubscribeRouterConfigRequest] = asyncio.Queue()
        nonce = NonceSource()
        helpers: list[asyncio.Task[None]] = []
        try:
            await call.write(controlplane_pb2.SubscribeRouterConfigRequest(router_id=router_id))
            helpers.append(asyncio.create_task(_write_all(call, outbox)))
            if fleet is not None:
                fleet.connected()
                helpers.append(asyncio.create_task(fleet.reports(nonce, outbox)))
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    log.warning("policy.stream_ended")
                    break
                if response.HasField("snapshot"):
                    snapshot = response.snapshot
                    missing = await artefacts.fetch_missing(snapshot) if artefacts else ""
                    if missing:
                        log.warning("policy.nack", snapshot=snapshot.version, error=missing)
                        outbox.put_nowait(_nack(snapshot, router_id, missing))
                    else:
                        outbox.put_nowait(_reply(state, snapshot, router_id))
                    nonce.current = snapshot.nonce
                if fleet is not None:
                    fleet.apply(response)
                backoff = MIN_BACKOFF_S
        except grpc.aio.AioRpcError as exc:
            log.warning("policy.stream_failed", code=exc.code().name, retry_in_s=backoff)
        finally:
            for task in helpers:
                task.cancel()
            call.cancel()
            if fleet is not None:
                fleet.lost()  # local breakers again until the next stream
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_S)


async def _write_all(
    call: grpc.aio.StreamStreamCall,
    outbox: asyncio.Queue[controlplane_pb2.SubscribeRouterConfigRequest],
) -> None:
    try:
        while True:
            await call.write(await outbox.get())
    except grpc.aio.AioRpcError:
        call.cancel()  # the reader then ends the stream and reconnects


def _reply(
    state: RouterState, snapshot: controlplane_pb2.RouterConfigSnapshot, router_id: str
) -> controlplane_pb2.SubscribeRouterConfigRequest:
    """Adopt the snapshot and ACK it, or keep the last good policy and NACK it."""
    try:
        state.apply_snapshot(snapshot)
    except InvalidArgument as exc:
        log.warning("policy.nack", snapshot=snapshot.version, error=exc.message)
        return _nack(snapshot, router_id, exc.message)
    except Exception as exc:
        # A fault of ours, not of the snapshot's (e.g. a module that fails to import):
        # escaping here would end this task, and the router would never hear from the
        # control plane again, rollbacks included.
        log.exception("policy.apply_failed", snapshot=snapshot.version)
        return _nack(snapshot, router_id, f"the router failed to apply it: {exc!r}"[:500])
    return controlplane_pb2.SubscribeRouterConfigRequest(
        router_id=router_id,
        ack=controlplane_pb2.ConfigAck(version=snapshot.version, nonce=snapshot.nonce),
    )


def _nack(
    snapshot: controlplane_pb2.RouterConfigSnapshot, router_id: str, error: str
) -> controlplane_pb2.SubscribeRouterConfigRequest:
    return controlplane_pb2.SubscribeRouterConfigRequest(
        router_id=router_id,
        nack=controlplane_pb2.ConfigNack(
            version=snapshot.version, nonce=snapshot.nonce, error_detail=error
        ),
    )
