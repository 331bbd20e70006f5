"""`python -m services.registry --port N --db-path PATH [--port-file F]`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import grpc
import structlog

from services.registry.auth import AuthInterceptor, TokenTable
from services.registry.config import ENV_PREFIX, RegistryConfig
from services.registry.fleet_metrics import FLEET_METRICS
from services.registry.servicer import SERVICE_NAME, RegistryServicer
from services.registry.store import ModelStore
from switchyard.registry.v1 import registry_pb2_grpc
from switchyard.runtime.config import load_config
from switchyard.runtime.server import Registrar, RunningServer, run_service, serve, start_server

log = structlog.get_logger("services.registry")
NAME = "registry"


def registrar(store: ModelStore) -> Registrar:
    FLEET_METRICS.source = store  # /metrics reads this store's fleet

    def register(server: grpc.aio.Server) -> Sequence[str]:
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(store), server)
        return [SERVICE_NAME]

    return register


def interceptors(config: RegistryConfig) -> list[grpc.aio.ServerInterceptor]:
    tokens = TokenTable.from_config(config)
    if not tokens.enabled:
        log.warning(
            "auth.disabled",
            detail="no admin/read/health tokens configured: anyone who can reach the port "
            "may change the fleet; set SWITCHYARD_REGISTRY_ADMIN_TOKENS and READ_TOKENS",
        )
        return []
    return [AuthInterceptor(tokens)]


async def start_registry(config: RegistryConfig) -> tuple[RunningServer, ModelStore]:
    """In-process registry for tests: bound (port 0 works), store open; stop both after."""
    store = await ModelStore.open(config.db_path, watch_queue_limit=config.watch_queue_limit)
    try:
        running = await start_server(
            name=NAME, config=config, register=registrar(store), interceptors=interceptors(config)
        )
    except BaseException:
        await store.close()
        raise
    running.on_drain.append(store.end_watches)
    return running, store


async def main(argv: Sequence[str] | None = None) -> None:
    config = load_config(
        RegistryConfig, env_prefix=ENV_PREFIX, argv=argv, description="Switchyard model registry"
    )
    # Opened before binding: a registry that cannot read its database never reports ready.
    store = await ModelStore.open(config.db_path, watch_queue_limit=config.watch_queue_limit)
    try:
        await serve(
            name=NAME,
            config=config,
            register=registrar(store),
            # Watch streams never finish by themselves: end them (clients resume with
            # since_revision) so they do not hold the drain for the whole grace period.
            on_drain=store.end_watches,
            on_stop=store.close,
            interceptors=interceptors(config),
        )
    except BaseException:
        await store.close()
        raise


if __name__ == "__main__":
    sys.exit(run_service(main, name=NAME))
