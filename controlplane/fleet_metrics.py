"""Prometheus view of the fleet breakers (read at scrape time from the process's Fleet)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controlplane.fleet import Fleet

STATES = ("closed", "open", "half_open")


class FleetCollector(Collector):
    def __init__(self) -> None:
        self.source: Fleet | None = None

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "switchyard_controlplane_fleet_breaker_state",
            "1 for the fleet breaker state each model is in, 0 for the others",
            labels=["model", "state"],
        )
        ignored = CounterMetricFamily(
            "switchyard_controlplane_fleet_reports_ignored",
            "Router reports ignored: another router's id, or a nonce the stream never sent",
            labels=["reason"],
        )
        fleet = self.source
        if fleet is not None:
            for model in list(fleet.breakers.models()):
                for name in STATES:
                    state.add_metric([model.model_id, name], 1.0 if model.state == name else 0.0)
            ignored.add_metric(["unknown_router"], fleet.ignored_unknown_router)
            ignored.add_metric(["stale_nonce"], fleet.ignored_stale_nonce)
        yield from (state, ignored)


FLEET_METRICS = FleetCollector()
REGISTRY.register(FLEET_METRICS)
