"""Prometheus view of the registry's fleet: models per health state, the revision and
the watch streams open, read from the store's in-memory mirror at scrape time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.registry.store import ModelStore
from switchyard.registry.v1 import registry_pb2

# Every state is exported (0 when no model is in it), so an alert can say "== 0".
HEALTH_STATES = {
    value.number: value.name.removeprefix("HEALTH_STATE_").lower()
    for value in registry_pb2.HealthState.DESCRIPTOR.values
    if value.number
}


class FleetCollector(Collector):
    def __init__(self) -> None:
        self.source: ModelStore | None = None

    def collect(self) -> Iterator[Metric]:
        models = GaugeMetricFamily(
            "switchyard_registry_models",
            "Models in the registry by their last observed health",
            labels=["health"],
        )
        revision = GaugeMetricFamily(
            "switchyard_registry_revision", "The fleet's revision (bumped by every change)"
        )
        watchers = GaugeMetricFamily(
            "switchyard_registry_watchers", "WatchModels streams open (routers following)"
        )
        store = self.source
        if store is not None:
            counts = Counter(store.health_states())
            for number, name in HEALTH_STATES.items():
                models.add_metric([name], counts.get(number, 0))
            revision.add_metric([], store.revision)
            watchers.add_metric([], store.watcher_count)
        yield from (models, revision, watchers)


FLEET_METRICS = FleetCollector()
REGISTRY.register(FLEET_METRICS)
