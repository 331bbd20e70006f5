"""Prometheus view of the control plane: the rollout routers are sent (active and canary
version, canary share), the snapshot generation, routers connected, breaker overrides,
and the routers' ACK/NACK replies. Read at scrape time from the distributor's current
state; replies are counted in plain numbers as they arrive."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controlplane.distribution import SnapshotDistributor
from switchyard.runtime.metrics import LabelledCounts


class ControlPlaneCollector(Collector):
    def __init__(self) -> None:
        self.source: SnapshotDistributor | None = None
        self.replies = LabelledCounts()

    def collect(self) -> Iterator[Metric]:
        def gauge(name: str, documentation: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"switchyard_controlplane_{name}", documentation)

        active = gauge("active_policy_version", "The policy version routers run (0: none yet)")
        canary = gauge("canary_policy_version", "The canary version (0: no canary)")
        share = gauge("canary_percent", "The share of sticky keys routed by the canary, 0..100")
        generation = gauge("snapshot_generation", "The snapshot version routers are sent")
        routers = gauge("connected_routers", "Routers with a config stream open")
        overrides = GaugeMetricFamily(
            "switchyard_controlplane_breaker_overrides",
            "Operator breaker overrides in force, by forced state",
            labels=["state"],
        )
        distributor = self.source
        if distributor is not None:
            state = distributor.current
            active.add_metric([], state.rollout.active_version)
            canary.add_metric([], state.rollout.canary_version)
            share.add_metric([], state.rollout.canary_percent)
            generation.add_metric([], state.generation)
            routers.add_metric([], len(distributor.connected()))
            forced: dict[str, int] = {}
            for record in state.breaker_overrides:
                forced[record.state] = forced.get(record.state, 0) + 1
            for key, n in forced.items():
                overrides.add_metric([key], n)
        yield from (active, canary, share, generation, routers, overrides)
        yield self.replies.family(
            "switchyard_controlplane_router_replies",
            "Router replies to snapshots: ACK (applied) or NACK (refused, still on the last)",
            ["status"],
        )


CONTROLPLANE_METRICS = ControlPlaneCollector()
REGISTRY.register(CONTROLPLANE_METRICS)
