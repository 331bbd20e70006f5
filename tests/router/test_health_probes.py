"""Active health checks (issue 10 §4, fast recovery): an OPEN model that answers a
one-token probe turns HALF_OPEN at once, so real answers resume without waiting out
the breaker's open period."""

from __future__ import annotations

import asyncio
import time

from services.router.breakers import BreakerState
from services.router.testing import ask
from services.simulator.faults import FaultSettings

from .conftest import RouterHarness


async def test_recovered_model_gets_traffic_within_two_seconds(router: RouterHarness) -> None:
    """The small model fails until its breaker opens (open wait 60 s in this policy);
    once it is healthy again, the prober's probe half-opens the breaker and requests
    reach small again within 2 s, not 60 s."""
    small = router.sim.model("small")
    small.faults = FaultSettings(error_rate=1.0, error_status=503)
    for _ in range(4):
        await router.stub.Route(ask(), timeout=5)
    breaker = router.app.breakers.get("small")
    assert breaker.state is BreakerState.OPEN
    prober = router.app.start_health_probes(interval_s=0.1)
    await asyncio.sleep(0.5)
    assert breaker.state is BreakerState.OPEN, "probes of a failing model must not reopen it"
    assert prober.probes_sent >= 2

    small.faults = FaultSettings()
    healed = time.monotonic()
    while time.monotonic() - healed < 2.0:
        reply = await router.stub.Route(ask(), timeout=5)
        if reply.model_id == "small":
            break
        await asyncio.sleep(0.05)
    assert reply.model_id == "small", "small got no traffic within 2 s of recovering"
    assert time.monotonic() - healed < 2.0


async def test_probes_only_open_models(router: RouterHarness) -> None:
    """With every breaker closed the prober sends nothing."""
    prober = router.app.start_health_probes(interval_s=0.05)
    await asyncio.sleep(0.3)
    assert prober.probes_sent == 0
    assert router.sim.model("small").counters["requests"] == 0
