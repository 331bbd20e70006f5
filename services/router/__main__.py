"""`python -m services.router`: the RouterService process."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Sequence

import grpc
import structlog

from services.router.breakers import BreakerBoard, BreakerState
from services.router.config import RouterConfig
from services.router.execution import RouteExecutor
from services.router.provider_pool import ProviderPool
from services.router.servicer import RouterServicer
from services.router.state import RouterState
from services.router.sync import subscribe_config, watch_fleet
from services.router.verification import EmbeddedVerifier, RemoteVerifier
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.config import load_config
from switchyard.runtime.server import run_service, serve

log = structlog.get_logger("services.router")


async def amain(argv: Sequence[str] | None) -> None:
    config = load_config(
        RouterConfig, env_prefix="SWITCHYARD_ROUTER_", argv=argv, description=__doc__
    )
    router_id = config.router_id or f"{socket.gethostname()}-{os.getpid()}"
    state = RouterState(config.state_dir or None)
    state.restore()

    def on_transition(model: str, old: BreakerState, new: BreakerState) -> None:
        log.warning("breaker.transition", model=model, old=old.value, new=new.value)

    breakers = BreakerBoard(on_transition=on_transition)
    pool = ProviderPool(os.environ)
    embedded = EmbeddedVerifier()
    channels: list[grpc.aio.Channel] = []
    if config.verifier_mode == "remote":
        verifier_channel = grpc.aio.insecure_channel(config.verifier_address)
        channels.append(verifier_channel)
        verifier = RemoteVerifier(verifier_channel, embedded)
    else:
        verifier = embedded
    executor = RouteExecutor(provider_for=pool.provider_for, verifier=verifier, breakers=breakers)
    servicer = RouterServicer(
        state=state, executor=executor, breakers=breakers, log_prompts=config.log_prompts
    )
    tasks: list[asyncio.Task[None]] = []

    async def on_start() -> None:
        registry = grpc.aio.insecure_channel(config.registry_address)
        controlplane = grpc.aio.insecure_channel(config.controlplane_address)
        channels.extend([registry, controlplane])
        metadata = (
            (("authorization", f"Bearer {config.registry_token}"),) if config.registry_token else ()
        )
        tasks.append(asyncio.create_task(watch_fleet(registry, state, metadata=metadata)))
        tasks.append(
            asyncio.create_task(subscribe_config(controlplane, state, router_id=router_id))
        )

    async def on_stop() -> None:
        for task in tasks:
            task.cancel()
        for channel in channels:
            await channel.close()
        await pool.close()

    def register(server: grpc.aio.Server) -> list[str]:
        router_pb2_grpc.add_RouterServiceServicer_to_server(servicer, server)
        return [router_pb2.DESCRIPTOR.services_by_name["RouterService"].full_name]

    await serve(
        name="router",
        config=config,
        register=register,
        on_start=on_start,
        on_stop=on_stop,
        ready=state.wait_ready,
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_service(lambda: amain(argv), name="router")


if __name__ == "__main__":
    sys.exit(main())
