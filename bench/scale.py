"""Scale: the same scenario with several router processes sharing one port
(SO_REUSEPORT; the kernel spreads h2load's connections over them), then with one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.measure import BenchSettings, GrpcTarget, throughput
from bench.plan import request_for
from bench.scenarios import Scale, Throughput
from bench.stack import Stack
from bench.stats import count_delta


def diagnose_limit(cpu: dict[str, Any]) -> str:
    """Say plainly what capped a run: the load generator, the cores, or neither."""
    per_process = cpu.get("percent_of_one_core", {})
    generator = per_process.get("h2load", 0.0)
    machine = cpu.get("machine_busy_percent", 0.0)
    cores = cpu.get("cores", 1)
    busiest = ", ".join(
        f"{name} {pct:.0f} %" for name, pct in sorted(per_process.items(), key=lambda kv: -kv[1])
    )
    if generator >= 85.0:
        return f"the load generator is the limit (h2load at {generator:.0f} % of a core)"
    if machine >= 90.0:
        pressure = cpu.get("cpu_pressure_percent")
        waited = f"; some task waited for a core {pressure:.0f} % of the time" if pressure else ""
        return (
            f"the {cores} cores are the limit: the machine was {machine:.0f} % busy"
            f" (per process, % of one core: {busiest}){waited}; h2load used"
            f" {generator:.0f} %, so it was not the limit"
        )
    return (
        f"neither the cores ({machine:.0f} % busy) nor h2load ({generator:.0f} %) were"
        f" saturated (per process: {busiest})"
    )


async def run_scale(
    stack: Stack, scenario: Scale, of: Throughput, work_dir: Path, settings: BenchSettings
) -> dict[str, Any]:
    request = request_for(of).SerializeToString()
    routers = stack.live_routers()[: scenario.routers]
    if len(routers) < scenario.routers:
        raise RuntimeError(f"scale wants {scenario.routers} routers, {len(routers)} are up")

    def target(n: int) -> GrpcTarget:
        return GrpcTarget(f"{n} routers", stack.router_address, stack.router_counts, stack.pids)

    before = {name: await stack.router_counts_of(name) for name in routers}
    many = await throughput(
        target(len(routers)),
        request,
        work_dir,
        settings,
        name=f"{scenario.name}-{len(routers)}",
        connections=settings.scale_connections,
        streams=settings.scale_streams,
        sample=False,
    )
    split = {
        name: sum(count_delta(before[name], await stack.router_counts_of(name)).values())
        for name in routers
    }
    for name in routers[1:]:
        await stack.stop_router(name)
    one = await throughput(
        target(1),
        request,
        work_dir,
        settings,
        name=f"{scenario.name}-1",
        connections=settings.scale_connections,
        streams=settings.scale_streams,
        sample=False,
    )
    ratio = many["throughput_rps"] / one["throughput_rps"] if one["throughput_rps"] else 0.0
    return {
        "of": of.name,
        "routers": len(routers),
        "many": many,
        "one": one,
        "requests_per_router": split,
        "ratio": round(ratio, 3),
        "limit": diagnose_limit(many["cpu"]),
    }
