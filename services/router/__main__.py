"""`python -m services.router`: the RouterService process."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence

from services.router.app import build_router
from services.router.config import RouterConfig
from services.router.state import RouterState
from switchyard.runtime.config import load_config
from switchyard.runtime.server import run_service, serve


async def amain(argv: Sequence[str] | None) -> None:
    config = load_config(
        RouterConfig, env_prefix="SWITCHYARD_ROUTER_", argv=argv, description=__doc__
    )
    state = RouterState(config.state_dir or None, artefacts_dir=config.artefacts_dir)
    state.restore()
    app = build_router(
        state=state,
        environ=os.environ,
        verifier_address=config.verifier_address if config.verifier_mode == "remote" else "",
        log_prompts=config.log_prompts,
        review_dir=config.state_dir,
        ledger_path=config.ledger_path,
        idempotency_ttl_s=config.idempotency_ttl_s,
    )
    # Open the shared ledger now: a path it cannot use fails the start, not a request.
    await app.host_store.database()

    async def on_start() -> None:
        token = config.registry_token
        app.follow(
            registry_address=config.registry_address,
            controlplane_address=config.controlplane_address,
            router_id=config.router_id or f"{socket.gethostname()}-{os.getpid()}",
            registry_metadata=(("authorization", f"Bearer {token}"),) if token else (),
        )
        if config.health_probe_interval_ms:
            app.start_health_probes(interval_s=config.health_probe_interval_ms / 1000)

    try:
        await serve(
            name="router",
            config=config,
            register=app.register,
            on_start=on_start,
            on_stop=app.close,
            ready=state.wait_ready,
        )
    finally:
        # Also when the start failed (port taken): an open SQLite thread keeps the
        # process from exiting.
        await app.host_store.close()


def main(argv: Sequence[str] | None = None) -> int:
    return run_service(lambda: amain(argv), name="router")


if __name__ == "__main__":
    sys.exit(main())
