"""Routing metrics after real routes through a real router gRPC server and the simulator
over HTTP: names, labels and values match what the responses said."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.router.app import RouterApp, build_router
from services.router.execution import AttemptOutcome, AttemptRecord
from services.router.observers import OBSERVER_FAILURES
from services.router.route_metrics import ROUTE_METRICS, TenantLabels, model_ms
from services.router.state import RouterState
from services.router.testing import POLICY, ask, feed
from services.simulator.faults import FaultSettings
from services.simulator.testing import RunningSimulator
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import start_server

TENANT_POLICY = (
    POLICY
    + """tenants:
  default: {limit_micros: 100000000, window_s: 3600}
"""
)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(registry: CollectorRegistry) -> Samples:
    """Every sample of the registry's text exposition, as Prometheus would read it."""
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


@asynccontextmanager
async def metered_router(
    sim: RunningSimulator, tmp_path: Path, *, policy: str = POLICY, tenants: int = 0
) -> AsyncIterator[tuple[router_pb2_grpc.RouterServiceStub, RouterApp, CollectorRegistry]]:
    state = RouterState(str(tmp_path))
    feed(state, sim.base_url, policy)
    app = build_router(state=state, environ={}, review_dir=str(tmp_path), metrics_tenants=tenants)
    registry = CollectorRegistry()
    registry.register(app.metrics)
    server = await start_server(name="router", config=ServerConfig(port=0), register=app.register)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield router_pb2_grpc.RouterServiceStub(channel), app, registry
    finally:
        await server.stop(0.5)
        await app.close()


def attempts_by_model(replies: list[router_pb2.RouteResponse]) -> Iterator[tuple[str, int]]:
    for reply in replies:
        for a in reply.attempts:
            yield a.model_id, a.cost_micros


async def test_counts_latency_and_cost_match_the_responses(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """Answered, escalated and refused routes are counted under their rule, selector,
    executor, model, version and outcome; the cost counter equals the responses' total
    cost per model; attempts, escalations and latency counts match the traces."""
    async with metered_router(simulator, tmp_path) as (stub, _, registry):
        replies = [await stub.Route(ask(), timeout=5) for _ in range(3)]
        simulator.model("small").faults = FaultSettings(error_rate=1.0, error_status=503)
        replies.append(await stub.Route(ask(), timeout=5))
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.Route(router_pb2.RouteRequest(), timeout=5)
        samples = scrape(registry)

    labels = {"rule": "cascade", "selector": "static", "executor": "cascade"}
    assert [r.model_id for r in replies] == ["small"] * 3 + ["large"]
    routes = "switchyard_router_routes_total"
    common = {**labels, "policy_version": "1", "outcome": "ok"}
    assert value(samples, routes, **common, model="small") == 3
    assert value(samples, routes, **common, model="large") == 1
    refused = {"rule": "", "selector": "", "executor": "", "model": "", "policy_version": ""}
    assert value(samples, routes, **refused, outcome="invalid_argument") == 1

    cost = "switchyard_router_cost_micros_total"
    assert total(samples, cost) == sum(r.total_cost_micros for r in replies) > 0
    for model in ("small", "large"):
        spent = sum(c for m, c in attempts_by_model(replies) if m == model)
        assert value(samples, cost, tenant="", rule="cascade", model=model) == spent

    attempts = "switchyard_router_attempts_total"
    assert (
        value(samples, attempts, model="small", outcome="server_error", verdict="not_verified") == 2
    )
    assert value(samples, attempts, model="small", outcome="ok", verdict="accept") == 3
    assert value(samples, attempts, model="large", outcome="ok", verdict="accept") == 1
    assert value(samples, "switchyard_router_escalations_total", rule="cascade") == 1
    answered = {"rule": "cascade", "executor": "cascade"}
    latency = "switchyard_router_route_latency_seconds"
    assert value(samples, f"{latency}_count", **answered) == 4
    assert (
        value(samples, f"{latency}_sum", **answered)
        >= sum(r.total_latency_ms for r in replies) / 1000 - 0.004
    )  # each response's figure is rounded to the ms
    assert value(samples, "switchyard_router_added_latency_seconds_count", **answered) == 4
    per_attempt = "switchyard_router_attempt_latency_seconds_count"
    assert value(samples, per_attempt, model="small", outcome="server_error") == 2
    assert value(samples, per_attempt, model="large", outcome="ok") == 1
    slo = "switchyard_router_latency_slo_routes_total"
    assert value(samples, slo, rule="cascade", met="true") == 4
    assert total(samples, "switchyard_router_expected_cost_micros_total", rule="cascade") > 0


async def test_an_idempotent_replay_is_counted_but_costs_nothing(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """The replayed response carries the first one's cost; the counter adds it once."""
    async with metered_router(simulator, tmp_path) as (stub, _, registry):
        first = await stub.Route(ask(idempotency_key="k"), timeout=5)
        again = await stub.Route(ask(idempotency_key="k"), timeout=5)
        samples = scrape(registry)
    assert again.idempotent_replay and again.total_cost_micros == first.total_cost_micros > 0
    assert total(samples, "switchyard_router_cost_micros_total") == first.total_cost_micros
    assert total(samples, "switchyard_router_routes_total", outcome="ok") == 2
    assert total(samples, "switchyard_router_attempts_total") == len(first.attempts)


async def test_tenant_labels_are_capped_and_budgets_reported(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """With two tenant labels allowed, the third and fourth tenants are "other"; each
    named tenant's budget gauge shows its window as its last route found it."""
    async with metered_router(simulator, tmp_path, policy=TENANT_POLICY, tenants=2) as (
        stub,
        _,
        registry,
    ):
        replies = {t: await stub.Route(ask(tenant=t), timeout=5) for t in ("a", "b", "c", "d")}
        await stub.Route(ask(tenant="a"), timeout=5)
        samples = scrape(registry)
    cost = "switchyard_router_cost_micros_total"
    tenants = {dict(ls)["tenant"] for n, ls in samples if n == cost}
    assert tenants == {"a", "b", "other"}
    assert total(samples, cost, tenant="other") == (
        replies["c"].total_cost_micros + replies["d"].total_cost_micros
    )
    used = "switchyard_router_tenant_budget_used_micros"
    assert value(samples, used, tenant="a") == replies["a"].total_cost_micros
    assert value(samples, used, tenant="b") == 0
    assert value(samples, "switchyard_router_tenant_budget_limit_micros", tenant="a") == 100_000_000


async def test_without_tenant_labels_no_tenant_is_named(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """Off by default: cost is one series per rule and model, no budget gauges."""
    async with metered_router(simulator, tmp_path, policy=TENANT_POLICY) as (stub, _, registry):
        await stub.Route(ask(tenant="acme"), timeout=5)
        samples = scrape(registry)
    assert {
        dict(ls)["tenant"] for n, ls in samples if n == "switchyard_router_cost_micros_total"
    } == {""}
    assert not [n for n, _ in samples if n == "switchyard_router_tenant_budget_used_micros"]


async def test_breaker_state_and_degraded_routes(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """Every call failing: the small model's breaker opens (state gauge 1 for open, 0
    for closed; one transition counted) and the static answer is a degraded route."""
    policy = POLICY + "degrade: {static_answer: 'Try again later.'}\n"
    async with metered_router(simulator, tmp_path, policy=policy) as (stub, _, registry):
        for name in ("small", "large"):
            simulator.model(name).faults = FaultSettings(error_rate=1.0, error_status=500)
        replies = [await stub.Route(ask(), timeout=5) for _ in range(3)]
        samples = scrape(registry)
    assert all(r.degraded and r.finish_reason == "static" for r in replies)
    state = "switchyard_router_breaker_state"
    assert value(samples, state, model="small", state="open") == 1
    assert value(samples, state, model="small", state="closed") == 0
    assert (
        value(samples, "switchyard_router_breaker_transitions_total", model="small", state="open")
        == 1
    )
    assert (
        value(samples, "switchyard_router_degraded_routes_total", rule="cascade", reason="static")
        == 3
    )
    assert total(samples, "switchyard_router_routes_total", outcome="degraded") == 3


async def test_the_process_registry_exports_the_router_and_observer_failures(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """/metrics (the process registry) shows the last router built and the observer
    failure count."""
    async with metered_router(simulator, tmp_path) as (stub, app, _):
        assert ROUTE_METRICS.source is app.metrics
        await stub.Route(ask(), timeout=5)
        samples = scrape(REGISTRY)
    assert total(samples, "switchyard_router_routes_total", outcome="ok") == 1
    assert value(samples, "switchyard_router_observer_failures_total") == OBSERVER_FAILURES.count


def attempt(stage: int, ms: float, outcome: AttemptOutcome = AttemptOutcome.OK) -> AttemptRecord:
    return AttemptRecord(model_id="m", stage=stage, retry=0, outcome=outcome, latency_ms=ms)


def test_model_time_adds_sequential_stages_and_takes_the_longest_concurrent_one() -> None:
    """A cascade waits for each stage in turn; parallel members overlap; retries in a
    stage follow each other; skipped attempts took no model time."""
    attempts = [
        attempt(0, 10),
        attempt(0, 5),
        attempt(1, 30),
        attempt(2, 99, AttemptOutcome.SKIPPED),
    ]
    assert model_ms(attempts, "cascade") == 45
    assert model_ms(attempts, "parallel") == 30
    assert model_ms([], "single") == 0


def test_tenant_labels_fold_past_the_cap() -> None:
    """Cap 0 names nobody; cap 2 names the first two seen, again and again."""
    assert TenantLabels(0)("acme") == ""
    labels = TenantLabels(2)
    assert [labels(t) for t in ("a", "b", "c", "a", "b", "d")] == [
        "a",
        "b",
        "other",
        "a",
        "b",
        "other",
    ]
    with pytest.raises(ValueError):
        TenantLabels(-1)


def test_a_negative_tenant_label_cap_is_refused_at_startup() -> None:
    """metrics_tenants < 0 stops the router before it serves, saying what to set."""
    from services.router.config import RouterConfig
    from switchyard.runtime.errors import StartupError

    assert RouterConfig(metrics_tenants=3).metrics_tenants == 3
    with pytest.raises(StartupError, match="metrics_tenants"):
        RouterConfig(metrics_tenants=-1)
