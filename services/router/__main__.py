"""`python -m services.router`: the RouterService process."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog

from services.router.app import build_router
from services.router.concurrency import ConcurrencyLimiter, GradientLimit
from services.router.config import RouterConfig
from services.router.decision_log import (
    DECISIONS_FILE,
    DecisionLogSettings,
    build_redactor,
    load_callable,
)
from services.router.feedback_peers import FeedbackPeers
from services.router.overload import OverloadGuard
from services.router.state import RouterState
from services.router.tenants import TenantTokens
from switchyard.checks.startup import startup_scorer
from switchyard.runtime.config import load_config
from switchyard.runtime.errors import StartupError
from switchyard.runtime.server import run_service, serve

log = structlog.get_logger("services.router")


def overload_guard(config: RouterConfig) -> OverloadGuard:
    """Rate limits always (the policy names them); the concurrency limiter unless off."""
    settings = config.concurrency_limit
    if settings is None:
        log.warning("overload.concurrency_limit_off", detail="concurrency_limit_max is 0")
        return OverloadGuard()
    limiter = ConcurrencyLimiter(limit=GradientLimit(settings), tiers=config.tiers)
    return OverloadGuard(limiter=limiter)


def load_tenants(config: RouterConfig) -> TenantTokens | None:
    """The callers' token table; None (logged as a warning) runs without authentication."""
    if not config.tenant_tokens_file:
        log.warning(
            "auth.disabled",
            detail="no tenant_tokens_file: every caller may name any tenant and tier; "
            "for development only (docs/security.md)",
        )
        return None
    tenants = TenantTokens.from_file(config.tenant_tokens_file)
    log.info("auth.tenant_tokens", path=config.tenant_tokens_file, tokens=len(tenants))
    return tenants


def decision_log_settings(config: RouterConfig) -> DecisionLogSettings | None:
    """Where and how this router logs its decisions; None (logged) when it does not."""
    path = config.decision_log_path or (
        str(Path(config.state_dir) / DECISIONS_FILE) if config.state_dir else ""
    )
    if not config.decision_log or not path:
        log.info("decision_log.off", detail="" if config.decision_log else "decision_log false")
        return None
    hook = load_callable(config.decision_log_redactor) if config.decision_log_redactor else None
    settings = DecisionLogSettings(
        path=Path(path),
        max_bytes=config.decision_log_max_mb * 1024 * 1024,
        rotations=config.decision_log_rotations,
        capture_text=config.decision_log_capture_text,
        redact=build_redactor(config.decision_log_redact, hook),
    )
    log.info(
        "decision_log.on",
        path=path,
        max_mb=config.decision_log_max_mb,
        rotations=config.decision_log_rotations,
        capture_text=config.decision_log_capture_text,
    )
    return settings


async def amain(argv: Sequence[str] | None) -> None:
    config = load_config(
        RouterConfig, env_prefix="SWITCHYARD_ROUTER_", argv=argv, description=__doc__
    )
    state = RouterState(
        config.state_dir or None,
        artefacts_dir=config.artefacts_dir,
        artefact_max_bytes=config.artefact_max_bytes,
    )
    state.restore()
    tenants = load_tenants(config)
    router_id = config.router_id or f"{socket.gethostname()}-{os.getpid()}"
    peers = None
    if config.peer_dir or config.feedback_peers:
        peers = FeedbackPeers(
            router_id,
            Path(config.peer_dir) if config.peer_dir else None,
            remote=config.feedback_peers,
            remote_tls=config.peer_tls,
        )
    try:
        local = peers.prepare() if peers is not None else []
    except (OSError, ValueError) as exc:
        raise StartupError(f"peer_dir: {exc}") from exc
    scorer = startup_scorer(config.scorer_path)
    app = build_router(
        state=state,
        environ=os.environ,
        verifier_address=config.verifier_address if config.verifier_mode == "remote" else "",
        verifier_tls=config.verifier_tls,
        log_prompts=config.log_prompts,
        review_dir=config.state_dir,
        ledger_path=config.ledger_path,
        idempotency_ttl_s=config.idempotency_ttl_s,
        tenants=tenants,
        overload=overload_guard(config),
        metrics_tenants=config.metrics_tenants,
        decision_log=decision_log_settings(config),
        peers=peers,
        scorer=scorer,
    )
    # Open the shared ledger now: a path it cannot use fails the start, not a request.
    await app.host_store.database()

    async def on_start() -> None:
        app.follow(
            registry_address=config.registry_address,
            controlplane_address=config.controlplane_address,
            router_id=router_id,
            registry_token=config.registry_token,
            controlplane_token=config.controlplane_token,
            artefact_fetch_timeout_s=config.artefact_fetch_timeout_s,
            rollout_report_interval_s=config.rollout_report_interval_s,
            registry_tls=config.registry_tls,
            controlplane_tls=config.controlplane_tls,
        )
        if config.health_probe_interval_ms:
            app.start_health_probes(interval_s=config.health_probe_interval_ms / 1000)

    async def on_stop() -> None:
        await app.close()
        if peers is not None:
            await peers.close()  # its socket file goes too: peers stop asking it

    try:
        await serve(
            name="router",
            config=config,
            register=app.register,
            on_start=on_start,
            on_stop=on_stop,
            ready=state.wait_ready,
            local_addresses=local,
        )
    finally:
        # Also when the start failed (port taken): an open SQLite thread keeps the
        # process from exiting.
        await app.host_store.close()


def main(argv: Sequence[str] | None = None) -> int:
    return run_service(lambda: amain(argv), name="router")


if __name__ == "__main__":
    sys.exit(main())
