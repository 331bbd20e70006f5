"""The chaos timeline: each fault alone, then all of them together, under one steady
load. A phase injects its fault, holds it, ends it, then watches a recovery tail; it
returns its `PhaseWindow` (times from the start of the load)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bench.chaos.actions import ControlPlane, ModelServer, RouterProbe
from bench.chaos.load import ChaosLoad
from bench.chaos.outcomes import PhaseWindow
from switchyard.controlplane.v1.controlplane_pb2 import RouterStatus
from switchyard.suite import Suite

# What every model of the chaos fleet suffers during the soak (simulator faults).
SOAK_FAULTS = {"error_rate": 0.1, "error_status": 503, "delay_rate": 0.2, "delay_ms": 2000}
SERVED_MODELS = ("alpha", "beta")
# Services killed with -9 and restarted, one phase each, in this order.
KILLED_SERVICES = ("registry", "controlplane", "verifier")
# How long the run waits for a router to reconnect, ACK or NACK before going on.
ROUTER_WAIT_S = 30.0
# Each phase starts with this long a clean stretch, so the calls the previous phase
# sent last have ended before the next fault can reach them.
LEAD_S = 0.5
# A call is planned on the policy in force when it arrives, about a millisecond after
# its send: calls sent this long before a push never meet it.
NACK_WINDOW_GUARD_S = 0.05


@dataclass(frozen=True)
class ChaosProfile:
    """Durations in seconds and the load. `full` is `make chaos`, `short` the test."""

    name: str
    rate: float
    baseline_s: float
    soak_s: float
    # How long a killed service stays down, and the recovery watched after each fault.
    down_s: float
    tail_s: float
    # How long each bad policy stays pushed.
    policy_hold_s: float
    cut_s: float
    # Each stretch of the combined phase (faults on, services down, restarted, ...).
    together_step_s: float
    cut_fraction: float = 0.2
    client_processes: int = 1

    def adjusted(self, *, soak_s: float | None = None, rate: float | None = None) -> ChaosProfile:
        """The same timeline with another soak length or rate."""
        return replace(
            self,
            soak_s=self.soak_s if soak_s is None else soak_s,
            rate=self.rate if rate is None else rate,
        )


FULL = ChaosProfile(
    "full",
    rate=100,
    baseline_s=10,
    soak_s=600,
    down_s=10,
    tail_s=10,
    policy_hold_s=8,
    cut_s=20,
    together_step_s=5,
)
SHORT = ChaosProfile(
    "short",
    rate=40,
    baseline_s=2,
    soak_s=10,
    down_s=1.5,
    tail_s=2.5,
    policy_hold_s=1.5,
    cut_s=3,
    together_step_s=1,
)
PROFILES = {p.name: p for p in (FULL, SHORT)}


@dataclass
class Chaos:
    """Everything a phase acts on, and the good policy version to roll back to."""

    suite: Suite
    load: ChaosLoad
    models: ModelServer
    controlplane: ControlPlane
    router: RouterProbe
    profile: ChaosProfile
    policies: dict[str, str]
    good_version: int
    log: Callable[[str], None] = print
    facts: dict[str, Any] = field(default_factory=dict)

    def now(self) -> float:
        return self.load.now()

    async def hold(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def faults_on(self) -> None:
        for model in SERVED_MODELS:
            await self.models.set_faults(model, SOAK_FAULTS)

    async def faults_off(self) -> None:
        for model in SERVED_MODELS:
            await self.models.clear_faults(model)

    async def kill(self, name: str) -> None:
        if name == "simulator":
            await self.models.kill()
        else:
            await self.suite.kill_service(name)
        self.log(f"  t={self.now():6.1f}s kill -9 {name}")

    async def restart(self, name: str) -> float:
        started = time.monotonic()
        if name == "simulator":
            await self.models.restart()
        else:
            await self.suite.restart(name)
        took = time.monotonic() - started
        self.log(f"  t={self.now():6.1f}s {name} restarted ({took:.2f} s)")
        return took

    async def begin(self) -> tuple[float, int]:
        """Open a phase: its start, the model calls counted so far, then the lead."""
        start, calls = self.now(), await self.models.calls()
        await self.hold(LEAD_S)
        return start, calls

    async def router_reconnected(self) -> float | None:
        return await self.controlplane.wait_for(lambda s, _: s.connected, timeout_s=ROUTER_WAIT_S)

    async def window(
        self,
        name: str,
        start_s: float,
        calls_before: int,
        *,
        fault: tuple[float, float] | None,
        facts: dict[str, Any] | None = None,
    ) -> PhaseWindow:
        """Close a phase: what the model servers counted, which breakers are open."""
        end_s = self.now()
        calls = await self.models.calls() - calls_before
        open_now = await self.router.open_breakers()
        self.log(f"  t={end_s:6.1f}s {name} done; open breakers: {', '.join(open_now) or 'none'}")
        return PhaseWindow(
            name=name,
            start_s=start_s,
            end_s=end_s,
            fault_start_s=fault[0] if fault else None,
            fault_end_s=fault[1] if fault else None,
            upstream_calls=calls,
            open_breakers_at_end=open_now,
            facts=facts or {},
        )


Phase = Callable[[Chaos], Awaitable[PhaseWindow]]


def nacked_current(status: RouterStatus, current: str) -> bool:
    """The router NACKed the snapshot being distributed now."""
    return bool(current) and status.nacked_snapshot_version == current


async def baseline(c: Chaos) -> PhaseWindow:
    start, calls = await c.begin()
    await c.hold(c.profile.baseline_s)
    return await c.window("baseline", start, calls, fault=None)


async def soak(c: Chaos) -> PhaseWindow:
    start, calls = await c.begin()
    await c.faults_on()
    fault_start = c.now()
    await c.hold(c.profile.soak_s)
    await c.faults_off()
    fault_end = c.now()
    await c.hold(c.profile.tail_s)
    return await c.window(
        "soak", start, calls, fault=(fault_start, fault_end), facts={"faults": SOAK_FAULTS}
    )


def kill_phase(service: str) -> Phase:
    async def run(c: Chaos) -> PhaseWindow:
        start, calls = await c.begin()
        await c.kill(service)
        fault_start = c.now()
        await c.hold(c.profile.down_s)
        facts: dict[str, Any] = {"restart_s": round(await c.restart(service), 3)}
        fault_end = c.now()
        if service == "controlplane":
            reconnected = await c.router_reconnected()
            facts["router_reconnected_s"] = None if reconnected is None else round(reconnected, 3)
        await c.hold(c.profile.tail_s)
        name = "model-outage" if service == "simulator" else f"kill-{service}"
        return await c.window(name, start, calls, fault=(fault_start, fault_end), facts=facts)

    return run


async def bad_policy(c: Chaos) -> PhaseWindow:
    """An invalid policy (refused at publish), one only routers can find wrong (NACK,
    keep serving), and a valid one that cannot work (only a dead model), rolled back."""
    start, calls = await c.begin()
    fault_start = c.now()
    facts: dict[str, Any] = {"good_version": c.good_version}
    invalid = await c.controlplane.publish(
        c.policies["invalid"], activate=True, message="chaos: invalid"
    )
    facts["invalid_refused"] = invalid.refused or f"stored as version {invalid.version}"
    nacked = await c.controlplane.publish(
        c.policies["nack"], activate=True, message="chaos: missing predictor artefact"
    )
    nack_start = c.now()
    facts["nack_version"] = nacked.version
    seen = await c.controlplane.wait_for(nacked_current, timeout_s=ROUTER_WAIT_S)
    facts["nack_seen_s"] = None if seen is None else round(seen, 3)
    c.log(f"  t={c.now():6.1f}s policy v{nacked.version} pushed: NACK after {seen} s")
    await c.hold(c.profile.policy_hold_s)
    # Calls arriving from here on may meet the dead policy: the NACK window ends here.
    nack_end = c.now() - NACK_WINDOW_GUARD_S
    dead = await c.controlplane.publish(
        c.policies["dead"], activate=True, message="chaos: only a dead model"
    )
    facts["dead_version"] = dead.version
    acked = await c.controlplane.wait_for(
        lambda s, _: s.active_version == dead.version, timeout_s=ROUTER_WAIT_S
    )
    facts["dead_acked_s"] = None if acked is None else round(acked, 3)
    await c.hold(c.profile.policy_hold_s)
    await c.controlplane.rollback(c.good_version)
    fault_end = c.now()
    back = await c.controlplane.wait_for(
        lambda s, _: s.active_version == c.good_version and s.up_to_date, timeout_s=ROUTER_WAIT_S
    )
    facts["rollback_acked_s"] = None if back is None else round(back, 3)
    facts["nack_window_s"] = [round(nack_start, 3), round(nack_end, 3)]
    c.log(f"  t={c.now():6.1f}s rolled back to v{c.good_version}")
    await c.hold(c.profile.tail_s)
    return await c.window("bad-policy", start, calls, fault=(fault_start, fault_end), facts=facts)


async def cancellations(c: Chaos) -> PhaseWindow:
    start, calls = await c.begin()
    c.load.set_cuts(c.profile.cut_fraction)
    fault_start = c.now()
    await c.hold(c.profile.cut_s)
    c.load.set_cuts(0.0)
    fault_end = c.now()
    await c.hold(c.profile.tail_s)
    return await c.window(
        "cancellations",
        start,
        calls,
        fault=(fault_start, fault_end),
        facts={"cut_fraction": c.profile.cut_fraction},
    )


async def together(c: Chaos) -> PhaseWindow:
    """Every fault at once: sick models, the registry, control plane and verifier
    killed, then the model server too; all restarted; a policy the routers NACK;
    clients cancelling throughout."""
    step = c.profile.together_step_s
    start, calls = await c.begin()
    await c.faults_on()
    c.load.set_cuts(c.profile.cut_fraction)
    fault_start = c.now()
    await c.hold(step)
    for service in KILLED_SERVICES:
        await c.kill(service)
    await c.hold(step)
    await c.kill("simulator")
    await c.hold(max(c.profile.down_s, step))
    await c.restart("simulator")
    await c.faults_on()  # a restarted simulator has forgotten them
    for service in KILLED_SERVICES:
        await c.restart(service)
    facts: dict[str, Any] = {}
    reconnected = await c.router_reconnected()
    facts["router_reconnected_s"] = None if reconnected is None else round(reconnected, 3)
    nacked = await c.controlplane.publish(
        c.policies["nack"], activate=True, message="chaos: missing predictor artefact, again"
    )
    seen = await c.controlplane.wait_for(nacked_current, timeout_s=ROUTER_WAIT_S)
    facts["nack_version"] = nacked.version
    facts["nack_seen_s"] = None if seen is None else round(seen, 3)
    await c.hold(step)
    await c.faults_off()
    c.load.set_cuts(0.0)
    await c.controlplane.rollback(c.good_version)
    fault_end = c.now()
    await c.hold(c.profile.tail_s)
    return await c.window("together", start, calls, fault=(fault_start, fault_end), facts=facts)


TIMELINE: tuple[Phase, ...] = (
    baseline,
    soak,
    *(kill_phase(s) for s in KILLED_SERVICES),
    kill_phase("simulator"),
    bad_policy,
    cancellations,
    together,
)
SOAK = "soak"
RECOVERY_PHASES = (
    "soak",
    *(f"kill-{s}" for s in KILLED_SERVICES),
    "model-outage",
    "bad-policy",
    "cancellations",
    "together",
)
