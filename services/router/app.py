"""The router's parts wired together: used by `__main__` and by in-process tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import structlog

from services.router.artefact_cache import DEFAULT_FETCH_TIMEOUT_S, ArtefactFetcher
from services.router.breakers import BreakerBoard, BreakerSettings, BreakerState
from services.router.decision_log import DecisionLog, DecisionLogSettings
from services.router.estimate_metrics import ESTIMATES_METRICS
from services.router.estimates import OutcomeEstimates
from services.router.execution import RouteExecutor
from services.router.feedback_peers import FeedbackPeers
from services.router.fleet_reports import FleetReporting
from services.router.health_probes import OpenModelProber
from services.router.host_store import LEDGER_FILE, HostStore
from services.router.idempotency import DEFAULT_TTL_S, IdempotencyStore
from services.router.ledger import SqliteLedger
from services.router.observers import RouteObserver
from services.router.overload import OverloadGuard
from services.router.provider_pool import ProviderPool
from services.router.response_cache import ResponseCache
from services.router.review import ReviewQueue
from services.router.rollout_report import DEFAULT_INTERVAL_S, RolloutStats, report_rollout_stats
from services.router.route_metrics import ROUTE_METRICS, RouteMetrics
from services.router.servicer import RouterServicer
from services.router.shadow import ShadowRunner
from services.router.state import PolicySet, RouterState
from services.router.sync import subscribe_config, watch_fleet
from services.router.tenant_budget import TenantBudgets
from services.router.tenants import TenantTokens
from services.router.verification import AnswerVerifier, EmbeddedVerifier, RemoteVerifier
from switchyard.checks.engine import PACKAGED, ScorerChoice
from switchyard.controlplane.v1 import controlplane_pb2
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.tls import TlsConfig, open_upstream_channel
from switchyard.runtime.tokens import bearer

log = structlog.get_logger("services.router")


def _log_transition(model: str, old: BreakerState, new: BreakerState) -> None:
    log.warning("breaker.transition", model=model, old=old.value, new=new.value)


_FORCED = {
    controlplane_pb2.BREAKER_OVERRIDE_FORCED_OPEN: BreakerState.FORCED_OPEN,
    controlplane_pb2.BREAKER_OVERRIDE_FORCED_CLOSED: BreakerState.FORCED_CLOSED,
    controlplane_pb2.BREAKER_OVERRIDE_DRAIN: BreakerState.DRAINING,
}


def apply_breaker_policy(board: BreakerBoard, policies: PolicySet) -> None:
    """Breaker thresholds from the active policy; operator overrides from the snapshot."""
    board.configure(BreakerSettings.from_policy(policies.active.policy.breaker))
    board.apply_overrides(
        {model: _FORCED[o] for model, o in policies.breaker_overrides.items() if o in _FORCED}
    )


@dataclass
class RouterApp:
    state: RouterState
    breakers: BreakerBoard
    pool: ProviderPool
    servicer: RouterServicer
    # The SQLite file the host's routers share: tenant ledger and idempotency keys.
    host_store: HostStore
    estimates: OutcomeEstimates | None = None
    channels: list[grpc.aio.Channel] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    rollout_stats: RolloutStats = field(default_factory=RolloutStats)
    decision_log: DecisionLog | None = None
    _wake_reporter: Callable[[], None] | None = None
    # Also a route observer; the process's /metrics exports the last router built.
    metrics: RouteMetrics = field(default_factory=RouteMetrics)

    def register(self, server: grpc.aio.Server) -> list[str]:
        router_pb2_grpc.add_RouterServiceServicer_to_server(self.servicer, server)
        return [router_pb2.DESCRIPTOR.services_by_name["RouterService"].full_name]

    def follow(
        self,
        *,
        registry_address: str,
        controlplane_address: str,
        router_id: str,
        registry_token: str = "",
        controlplane_token: str = "",
        artefact_fetch_timeout_s: float = DEFAULT_FETCH_TIMEOUT_S,
        rollout_report_interval_s: float = DEFAULT_INTERVAL_S,
        registry_tls: TlsConfig | None = None,
        controlplane_tls: TlsConfig | None = None,
    ) -> None:
        """Start the watch streams that keep the fleet and the policy current."""
        registry = open_upstream_channel(registry_address, registry_tls, token=registry_token)
        controlplane = open_upstream_channel(
            controlplane_address, controlplane_tls, token=controlplane_token
        )
        self.channels.extend([registry, controlplane])
        self.tasks.append(
            asyncio.create_task(watch_fleet(registry, self.state, metadata=bearer(registry_token)))
        )
        fleet = FleetReporting(self.breakers, self.estimates, router_id=router_id)
        self._wake_reporter = fleet.wake
        self.tasks.append(
            asyncio.create_task(
                subscribe_config(
                    controlplane,
                    self.state,
                    router_id=router_id,
                    metadata=bearer(controlplane_token),
                    fleet=fleet,
                    artefacts=ArtefactFetcher(
                        controlplane,
                        self.state.artefacts,
                        metadata=bearer(controlplane_token),
                        timeout_s=artefact_fetch_timeout_s,
                    ),
                )
            )
        )
        self.report_rollout(
            controlplane,
            router_id=router_id,
            token=controlplane_token,
            interval_s=rollout_report_interval_s,
        )

    def report_rollout(
        self, channel: grpc.aio.Channel, *, router_id: str, token: str, interval_s: float
    ) -> None:
        """Count every route per policy version and report to the control plane."""
        self.observe(self.rollout_stats)
        self.tasks.append(
            asyncio.create_task(
                report_rollout_stats(
                    channel,
                    self.rollout_stats,
                    router_id=router_id,
                    metadata=bearer(token),
                    interval_s=interval_s,
                )
            )
        )

    def observe(self, observer: RouteObserver) -> None:
        """Hand every finished Route() to `observer` (see observers)."""
        self.servicer.observers.append(observer)

    def breaker_moved(self, model: str, old: BreakerState, new: BreakerState) -> None:
        """Every transition is logged; the fleet hears of it at once."""
        _log_transition(model, old, new)
        if self._wake_reporter is not None:
            self._wake_reporter()

    def start_health_probes(self, *, interval_s: float) -> OpenModelProber:
        """Actively probe models whose breaker is OPEN (see health_probes)."""
        prober = OpenModelProber(
            breakers=self.breakers,
            fleet=lambda: self.state.fleet,
            provider_for=self.pool.provider_for,
            interval_s=interval_s,
        )
        self.tasks.append(asyncio.create_task(prober.run()))
        return prober

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for channel in self.channels:
            await channel.close()
        await self.pool.close()
        await self.host_store.close()
        if self.decision_log is not None:
            await self.decision_log.close()


def build_router(
    *,
    state: RouterState,
    environ: Mapping[str, str],
    verifier_address: str = "",
    verifier_tls: TlsConfig | None = None,
    log_prompts: bool = False,
    breakers: BreakerBoard | None = None,
    review_dir: str = "",
    ledger_path: str = "",
    idempotency_ttl_s: float = DEFAULT_TTL_S,
    tenants: TenantTokens | None = None,
    overload: OverloadGuard | None = None,
    metrics_tenants: int = 0,
    decision_log: DecisionLogSettings | None = None,
    peers: FeedbackPeers | None = None,
    scorer: ScorerChoice = PACKAGED,
) -> RouterApp:
    """A router over `state`; verifier_address empty means embedded verification.

    `ledger_path`: the SQLite file shared with the host's other routers (tenant ledger,
    idempotency keys); empty means review_dir/ledger.db, or memory without a review_dir.
    `metrics_tenants`: label cost and budget metrics with up to this many tenants (0: none).
    `decision_log`: where and how every Route() is logged; None logs nothing.
    `peers`: the other routers on this host, asked for feedback this one cannot place.
    `scorer`: the embedded verification's quality scorer (None: deterministic checks only).
    """
    metrics = RouteMetrics(tenant_labels=metrics_tenants)
    moved: list[RouterApp] = []  # the app, once built: transitions wake its reporter

    def on_transition(model: str, old: BreakerState, new: BreakerState) -> None:
        if moved:
            moved[0].breaker_moved(model, old, new)
        else:
            _log_transition(model, old, new)
        metrics.breaker_moved(model, old, new)

    board = breakers or BreakerBoard(on_transition=on_transition)
    metrics.breakers = board
    ROUTE_METRICS.source = metrics
    state.on_policy(lambda policies: apply_breaker_policy(board, policies))
    pool = ProviderPool(environ)
    embedded = EmbeddedVerifier(scorer)
    channels: list[grpc.aio.Channel] = []
    verifier: AnswerVerifier = embedded
    if verifier_address:
        channel = open_upstream_channel(verifier_address, verifier_tls)
        channels.append(channel)
        verifier = RemoteVerifier(channel, embedded)
    review = ReviewQueue(Path(review_dir) / "review-tickets.jsonl") if review_dir else None
    estimates = OutcomeEstimates()
    ESTIMATES_METRICS.source = estimates
    executor = RouteExecutor(
        provider_for=pool.provider_for,
        verifier=verifier,
        breakers=board,
        review=review,
        estimates=estimates,
    )
    host_store = HostStore(
        ledger_path or (str(Path(review_dir) / LEDGER_FILE) if review_dir else ":memory:")
    )
    decisions = DecisionLog(decision_log) if decision_log is not None else None
    servicer = RouterServicer(
        state=state,
        executor=executor,
        breakers=board,
        log_prompts=log_prompts,
        estimates=estimates,
        budgets=TenantBudgets(SqliteLedger(host_store)),
        idempotency=IdempotencyStore(host_store, ttl_s=idempotency_ttl_s),
        cache=ResponseCache(),
        tenants=tenants,
        overload=overload,
        observers=[metrics, decisions] if decisions is not None else [metrics],
        decisions=decisions,
        peers=peers,
    )
    stats = RolloutStats()
    # Shadow decisions go to the decision log beside the ones they shadow.
    servicer.observers.append(
        ShadowRunner(
            state=state,
            executor=executor,
            breakers=board,
            estimates=estimates,
            stats=stats,
            recorder=decisions,
        )
    )
    app = RouterApp(
        state,
        board,
        pool,
        servicer,
        host_store,
        estimates,
        channels,
        metrics=metrics,
        rollout_stats=stats,
        decision_log=decisions,
    )
    moved.append(app)
    return app
