"""The metric names the services export, collected from the process registry after
real routes through a real router, verifier server and simulator; and the metric names
a PromQL text reads."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

# The registry's and control plane's collectors, as their processes register them
# (their values are tested in tests/registry and tests/controlplane).
import controlplane.metrics  # noqa: F401
import services.registry.fleet_metrics  # noqa: F401
from services.router.app import build_router
from services.router.state import RouterState
from services.router.testing import SIM_MODELS, ask, feed
from services.simulator.faults import FaultSettings
from services.simulator.testing import running_simulator
from services.verifier.servicer import VerifierServicer, register_verifier
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import start_server

# Exported by the decision log (branch obs-decisions); the rules alert on it by name.
BUILT_ELSEWHERE = frozenset({"switchyard_decision_log_write_failures_total"})

POLICY = """
name: observed
max_deadline_ms: 5000
budget_micros: 100000
retry: {max_retries: 1, base_backoff_ms: 5, max_backoff_ms: 20}
breaker: {window_size: 4, minimum_calls: 4, open_wait_ms: 60000, max_open_wait_ms: 60000}
checks: [{name: non_empty}, {name: length, params: {min_chars: 20}}]
tenants:
  default: {limit_micros: 100000000, window_s: 3600}
degrade: {static_answer: "Try again later."}
rules:
  - name: cached
    when: {metadata: {cache: "yes"}}
    strategy: {kind: single, model: small}
    cache: {ttl_s: 60, max_entries: 4}
  - name: hedged
    when: {metadata: {hedge: "yes"}}
    strategy: {kind: hedge, models: [large, small], delay_ms: 1, cap: {share: 1.0, micros: 1000000}}
default:
  name: cascade
  strategy: {kind: cascade, stages: [{model: small}, {model: large}]}
"""
# A name PromQL reads: not part of a recording rule's name (rule:switchyard_x:rate5m).
METRIC = re.compile(r"(?<![\w:])switchyard_[a-z0-9_]+(?![\w:])")
RECORDED = re.compile(r"(?<![\w:])[a-z_]*:[a-z0-9_:]+(?![\w:])")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def metric_names(promql: str) -> set[str]:
    return set(METRIC.findall(promql))


def recorded_names(promql: str) -> set[str]:
    return {n for n in RECORDED.findall(promql) if not n.startswith(":")}


def exposition_names(text: str) -> frozenset[str]:
    """Every series name the text exposition declares (HELP/TYPE) or carries."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + s for s in SUFFIXES.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return frozenset(names)


async def exported_names(state_dir: Path) -> frozenset[str]:
    """Route answered, escalated, cached, hedged, replayed, degraded and refused requests
    through a router that calls a real verifier server; then read /metrics' registry."""
    async with running_simulator(SIM_MODELS, seed=3) as sim:
        verifier = await start_server(
            name="verifier",
            config=ServerConfig(port=0),
            register=register_verifier(VerifierServicer(scorer=None)),
        )
        state = RouterState(str(state_dir))
        feed(state, sim.base_url, POLICY)
        app = build_router(
            state=state,
            environ={},
            review_dir=str(state_dir),
            verifier_address=f"127.0.0.1:{verifier.port}",
            metrics_tenants=4,
        )
        router = await start_server(
            name="router", config=ServerConfig(port=0), register=app.register
        )
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{router.port}") as channel:
                stub = router_pb2_grpc.RouterServiceStub(channel)
                await stub.Route(ask(tenant="acme"), timeout=5)
                for _ in range(2):
                    await stub.Route(ask(metadata={"cache": "yes"}), timeout=5)
                    await stub.Route(ask(idempotency_key="once"), timeout=5)
                sim.model("large").faults = FaultSettings(added_latency_ms=200)
                await stub.Route(ask(metadata={"hedge": "yes"}), timeout=5)
                sim.model("large").faults = FaultSettings()
                sim.model("small").faults = FaultSettings(error_rate=1.0, error_status=503)
                for _ in range(3):
                    await stub.Route(ask(tenant="acme"), timeout=5)
                sim.model("large").faults = FaultSettings(error_rate=1.0, error_status=503)
                await stub.Route(ask(), timeout=5)
                try:
                    await stub.Route(router_pb2.RouteRequest(), timeout=5)
                except grpc.aio.AioRpcError:
                    pass
        finally:
            await router.stop(0.5)
            await app.close()
            await verifier.stop(0)
    return exposition_names(generate_latest(REGISTRY).decode())
