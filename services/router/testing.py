"""A small real deployment for tests and benchmarks: two simulated models, the policy
and fleet documents that reach them, and a sample decision-log row.

`tests/router` builds its router fixtures from these, and the benchmarks that run a
router in process (`bench.decision_log_bench`, `bench.route_cpu_bench`,
`bench.decision_store_bench`) use the same, so a benchmark never imports test code.
Like `services.simulator.testing`, nothing here is used by a running service.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from services.router.decision_log.record import Decision, DecisionOutcome
from services.router.state import RouterState
from switchyard.controlplane.v1 import controlplane_pb2
from switchyard.fleet import parse_fleet
from switchyard.registry.v1 import registry_pb2
from switchyard.router.v1 import router_pb2

FLEET = """
- id: small
  provider: {kind: simulator, endpoint: "${SIM}", upstream_model: small}
  pricing: {input_per_mtok_micros: 150000, output_per_mtok_micros: 600000}
  context_window: 16384
  max_output_tokens: 1024
  latency: {total_p50_ms: 10}
- id: large
  provider: {kind: simulator, endpoint: "${SIM}", upstream_model: large}
  pricing: {input_per_mtok_micros: 3000000, output_per_mtok_micros: 15000000}
  context_window: 16384
  max_output_tokens: 1024
  latency: {total_p50_ms: 20}
"""

POLICY = """
name: integration
max_deadline_ms: 5000
budget_micros: 100000
retry: {max_retries: 1, base_backoff_ms: 5, max_backoff_ms: 20}
breaker: {window_size: 4, minimum_calls: 4, open_wait_ms: 60000, max_open_wait_ms: 60000}
checks: [{name: non_empty}, {name: length, params: {min_chars: 20}}, {name: refusal}]
default:
  name: cascade
  strategy: {kind: cascade, stages: [{model: small}, {model: large}]}
"""

SIM_MODELS: Mapping[str, Mapping[str, Any]] = {
    "small": {"ttft_ms": 0, "tokens_per_second": 0, "quality": 1.0, "answer_tokens": 40},
    "large": {"ttft_ms": 0, "tokens_per_second": 0, "quality": 1.0, "answer_tokens": 40},
}


def snapshot(source: str, version: int = 1) -> controlplane_pb2.RouterConfigSnapshot:
    """A control-plane snapshot holding one policy, active."""
    return controlplane_pb2.RouterConfigSnapshot(
        version=str(version),
        nonce="test",
        policies=[controlplane_pb2.PolicyVersion(version=version, source=source)],
        rollout=controlplane_pb2.Rollout(active_version=version),
    )


def feed(state: RouterState, sim_base_url: str, policy: str = POLICY) -> None:
    """Give a router the fleet at `sim_base_url` and `policy`, as its streams would."""
    models = parse_fleet(FLEET, environ={"SIM": sim_base_url})
    state.apply_fleet_snapshot(registry_pb2.FleetSnapshot(models=models, revision=1))
    state.apply_snapshot(snapshot(policy))


def ask(text: str = "Explain how database indexes speed up queries.", **kw: Any):
    return router_pb2.RouteRequest(
        messages=[router_pb2.ChatMessage(role="user", content=text)], max_output_tokens=200, **kw
    )


def sample_decision(request_id: str, *, pad: int = 900, time_unix: float = 1.0) -> Decision:
    """An answered cascade decision whose detail carries `pad` bytes of random text
    (compressible padding would not exercise a size bound)."""
    return Decision(
        request_id=request_id,
        time_unix=time_unix,
        tenant="acme",
        tier="pro",
        task_type="chat",
        rule="default",
        selector="static",
        strategy="cascade",
        policy_version=1,
        canary=False,
        shadow=False,
        shadow_of="",
        outcome=DecisionOutcome.ANSWERED,
        code="OK",
        error="",
        model_id="small",
        attempts=1,
        escalations=0,
        expected_cost_micros=10,
        expected_latency_ms=20,
        cost_micros=12,
        latency_ms=21.5,
        slo_ms=1000,
        slo_met=True,
        cache_hit=False,
        input_tokens=30,
        output_tokens=40,
        detail={"attempts": [{"model_id": "small"}], "pad": os.urandom(pad // 2).hex()},
        models=("small",),
    )
