"""Per-version figures for the control plane's canary guard and rollout status.

`RolloutStats` is a route observer: it counts every finished Route() under the policy
version that routed it (and, for shadowed requests, the shadow comparison). The
reporter sends the cumulative counters to the control plane every few seconds, with a
boot id so a restarted router's counters start again rather than add up twice.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
import structlog

from services.router.execution import Verdict
from services.router.observers import RouteTrace
from switchyard.controlplane.v1 import controlplane_pb2, controlplane_pb2_grpc

log = structlog.get_logger(__name__)

# Must match controlplane.guard.LATENCY_BUCKETS_MS (the control plane adds them up);
# tests/router/test_rollout_report.py checks they agree.
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 750,
    1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 20_000, 60_000,
)  # fmt: skip
# Outcomes that count against a version: it failed to answer. Refusals the caller
# caused (bad input, budget, permission) are not the version's errors.
ERROR_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)
DEFAULT_INTERVAL_S = 2.0
REPORT_TIMEOUT_S = 5.0


def latency_bucket(latency_ms: float) -> int:
    for i, bound in enumerate(LATENCY_BUCKETS_MS):
        if latency_ms <= bound:
            return i
    return len(LATENCY_BUCKETS_MS)


def _buckets() -> list[int]:
    return [0] * (len(LATENCY_BUCKETS_MS) + 1)


@dataclass
class VersionCounters:
    requests: int = 0
    errors: int = 0
    escalations: int = 0
    verified: int = 0
    accepted: int = 0
    cost_micros: int = 0
    latency_buckets: list[int] = field(default_factory=_buckets)

    def add(self, trace: RouteTrace) -> None:
        self.requests += 1
        if trace.code in ERROR_CODES:
            self.errors += 1
        self.latency_buckets[latency_bucket(trace.latency_ms)] += 1
        result = trace.result
        if result is None:
            return
        self.cost_micros += result.total_cost_micros
        if result.escalations > 0:
            self.escalations += 1
        for attempt in result.attempts:
            if attempt.verdict is not Verdict.NOT_VERIFIED:
                self.verified += 1
                self.accepted += attempt.verdict is Verdict.ACCEPT

    def proto(self, version: int) -> controlplane_pb2.VersionStats:
        return controlplane_pb2.VersionStats(
            policy_version=version,
            requests=self.requests,
            errors=self.errors,
            escalations=self.escalations,
            verified=self.verified,
            accepted=self.accepted,
            cost_micros=self.cost_micros,
            latency_buckets=self.latency_buckets,
        )


@dataclass
class ShadowCounters:
    """The shadow version against the active answers of the same requests."""

    compared: int = 0
    agreed: int = 0
    executed: int = 0
    shadow_cost_micros: int = 0
    active_cost_micros: int = 0
    shadow_latency_buckets: list[int] = field(default_factory=_buckets)
    active_latency_buckets: list[int] = field(default_factory=_buckets)
    shadow_verified: int = 0
    shadow_accepted: int = 0
    active_verified: int = 0
    active_accepted: int = 0

    def proto(self, shadow: int, active: int) -> controlplane_pb2.ShadowStats:
        return controlplane_pb2.ShadowStats(
            shadow_version=shadow, active_version=active, **self.__dict__
        )


class RolloutStats:
    """The route observer (cheap: a few integer additions on the event loop)."""

    def __init__(self) -> None:
        self.versions: dict[int, VersionCounters] = {}
        self.shadows: dict[tuple[int, int], ShadowCounters] = {}
        self.changes = 0

    def observe(self, trace: RouteTrace) -> None:
        if not trace.policy_version or trace.idempotent_replay:
            return  # refused before a version was chosen, or a stored answer replayed
        self.versions.setdefault(trace.policy_version, VersionCounters()).add(trace)
        self.changes += 1

    def shadow(self, shadow_version: int, active_version: int) -> ShadowCounters:
        """The counters to add to; call `changed()` after adding, so they are sent."""
        self.changes += 1
        return self.shadows.setdefault((shadow_version, active_version), ShadowCounters())

    def changed(self) -> None:
        self.changes += 1

    def request(self, router_id: str, boot_id: str) -> controlplane_pb2.ReportRolloutStatsRequest:
        return controlplane_pb2.ReportRolloutStatsRequest(
            router_id=router_id,
            boot_id=boot_id,
            versions=[c.proto(v) for v, c in sorted(self.versions.items())],
            shadows=[c.proto(s, a) for (s, a), c in sorted(self.shadows.items())],
        )


async def report_rollout_stats(
    channel: grpc.aio.Channel,
    stats: RolloutStats,
    *,
    router_id: str,
    metadata: Sequence[tuple[str, str]] = (),
    interval_s: float = DEFAULT_INTERVAL_S,
) -> None:
    """Forever: send the counters when they changed; a failed send is retried next time."""
    stub = controlplane_pb2_grpc.ControlPlaneServiceStub(channel)
    boot_id = secrets.token_hex(8)
    sent = 0
    while True:
        await asyncio.sleep(interval_s)
        if stats.changes == sent:
            continue
        changes = stats.changes
        try:
            await stub.ReportRolloutStats(
                stats.request(router_id, boot_id),
                metadata=tuple(metadata),
                timeout=REPORT_TIMEOUT_S,
            )
            sent = changes
        except grpc.aio.AioRpcError as exc:
            log.warning("rollout.report_failed", code=exc.code().name)
