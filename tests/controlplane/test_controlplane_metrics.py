"""The control plane's metrics over a real ControlPlaneService and a router stream: the
rollout it pushes, routers connected, and ACK/NACK replies as they arrive."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from controlplane.metrics import CONTROLPLANE_METRICS
from tests.controlplane.cp_harness import (
    EXAMPLE_POLICY,
    ControlPlaneUnderTest,
    RouterClient,
    eventually,
)


def samples() -> dict[tuple[str, frozenset], float]:
    registry = CollectorRegistry()
    registry.register(CONTROLPLANE_METRICS)
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def metric(name: str, **labels: str) -> float:
    return samples().get((f"switchyard_controlplane_{name}", frozenset(labels.items())), -1.0)


async def test_rollout_routers_and_replies_are_exported(cp: ControlPlaneUnderTest) -> None:
    """After publishing and activating version 1, a router's stream counts as connected;
    its ACK and a NACK are counted by status."""
    assert CONTROLPLANE_METRICS.source is cp.plane.distributor
    before_ack = max(0.0, metric("router_replies_total", status="ACK"))
    before_nack = max(0.0, metric("router_replies_total", status="NACK"))
    await cp.publish(EXAMPLE_POLICY, activate=True)
    assert metric("active_policy_version") == 1 and metric("canary_policy_version") == 0
    router = RouterClient(cp.stub, "r1")
    try:
        await router.hello()
        snapshot = await router.next_snapshot()
        await router.ack(snapshot)
        await router.nack(snapshot, "bad policy")

        async def counted() -> bool:
            return metric("router_replies_total", status="NACK") == before_nack + 1

        await eventually(counted)
        assert metric("router_replies_total", status="ACK") == before_ack + 1
        assert metric("connected_routers") == 1
        assert metric("snapshot_generation") == float(snapshot.version)
    finally:
        router.close()
