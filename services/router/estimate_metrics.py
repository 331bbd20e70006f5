"""Prometheus view of the router's online estimates and predictor failures."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.router.estimates import OutcomeEstimates
from services.router.execution import PANICS
from services.router.selection.quality import FAILURES


class EstimatesCollector(Collector):
    """Reads the estimates of the router in this process at scrape time."""

    def __init__(self) -> None:
        self.source: OutcomeEstimates | None = None

    def collect(self) -> Iterator[Metric]:
        labels = ["model", "task_type"]
        acceptance = GaugeMetricFamily(
            "switchyard_router_stage_acceptance",
            "Measured share of stages a model ended with an accepted answer (decayed)",
            labels=labels,
        )
        outcomes = CounterMetricFamily(
            "switchyard_router_stage_outcomes", "Stage outcomes behind the estimates", labels=labels
        )
        latency = GaugeMetricFamily(
            "switchyard_router_measured_latency_ms",
            "Latency of a model's answered attempts over the last 256, by quantile",
            labels=[*labels, "quantile"],
        )
        if self.source is not None:
            for model, task, rate, n, p50, p95 in self.source.measured():
                acceptance.add_metric([model, task], rate)
                outcomes.add_metric([model, task], n)
                latency.add_metric([model, task, "0.5"], p50)
                latency.add_metric([model, task, "0.95"], p95)
        failures = CounterMetricFamily(
            "switchyard_router_predictor_failures",
            "Predictor errors at selection time (the request used registry quality)",
        )
        failures.add_metric([], FAILURES.count)
        panics = CounterMetricFamily(
            "switchyard_router_panic_routes",
            "Routes served in panic mode: every allowed model's breaker refused",
        )
        panics.add_metric([], PANICS.count)
        yield from (acceptance, outcomes, latency, failures, panics)


ESTIMATES_METRICS = EstimatesCollector()
REGISTRY.register(ESTIMATES_METRICS)
