"""`python -m controlplane`: serve ControlPlaneService until a signal."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import structlog

from controlplane.auth import interceptors
from controlplane.config import ENV_PREFIX, ControlPlaneConfig
from controlplane.fleet_metrics import FLEET_METRICS
from controlplane.plane import ControlPlane
from controlplane.registry import RegistryModels
from controlplane.servicer import registrar
from switchyard.runtime.config import load_config
from switchyard.runtime.server import run_service, serve

NAME = "controlplane"
log = structlog.get_logger(__name__)


async def _main(argv: Sequence[str] | None) -> None:
    config = load_config(
        ControlPlaneConfig,
        env_prefix=ENV_PREFIX,
        argv=argv,
        description="Switchyard control plane: versioned routing policies pushed to routers.",
    )
    registry = (
        RegistryModels(
            config.registry_address,
            timeout_s=config.registry_timeout_s,
            tls=config.registry_tls,
            token=config.registry_token,
        )
        if config.registry_address
        else None
    )
    plane = await ControlPlane.open(
        config.db_path,
        known_models=registry.model_ids if registry else None,
        max_artefact_bytes=config.max_artefact_bytes,
        lease_s=config.breaker_lease_s,
    )
    FLEET_METRICS.source = plane.fleet

    async def on_start() -> None:
        if config.seed_policy and await plane.seed(config.seed_policy):
            log.info("policy.seeded", path=config.seed_policy)

    async def on_drain() -> None:
        plane.drain()

    async def on_stop() -> None:
        await plane.close()
        if registry is not None:
            await registry.close()

    try:
        await serve(
            name=NAME,
            config=config,
            register=registrar(plane),
            on_start=on_start,
            on_stop=on_stop,
            on_drain=on_drain,
            interceptors=interceptors(config),
        )
    except BaseException:
        await on_stop()
        raise


def main(argv: Sequence[str] | None = None) -> int:
    return run_service(lambda: _main(argv), name=NAME)


if __name__ == "__main__":
    sys.exit(main())
