"""Whole-Route() CPU benchmark: the CPU one request costs, end to end, for the `make bench`
scenarios `single`, `score` and `auto` (and any other router Throughput scenario).

    python -m bench.route_cpu_bench [--only single,score,auto] [--calls N] [--repeats R]

One process holds a real router (build_router, embedded verifier, the decision log and
its writer process on), the real simulator with bench/policies/simulator.yaml, and a
gRPC client; each scenario's request (bench.plan.request_for) goes through the bench's
policy, one call at a time. Reported: process CPU µs per call (router, client and
simulator: the last two do the same work for every scenario, so the differences are the
route's) and wall µs per call, the minimum over R repeats of N calls with the scenarios
interleaved, and each scenario's excess over the first. Unlike throughput on a shared
2-core machine, CPU per call barely moves with other work; `make bench`'s paired rows
measure the throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import grpc

from bench.plan import build_policy, request_for
from bench.scenarios import SCENARIOS, Throughput
from bench.stack import BASE_POLICY_FILE, FLEET_FILE, SIMULATOR_FILE
from services.router.app import build_router
from services.router.decision_log import DecisionLogSettings
from services.router.state import RouterState
from services.router.testing import snapshot
from services.simulator.models import load_profiles
from services.simulator.testing import running_simulator
from switchyard.fleet.file import load_fleet
from switchyard.policy import parse_policy
from switchyard.registry.v1 import registry_pb2
from switchyard.router.v1 import router_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import start_server


async def measure(
    names: Sequence[str], calls: int, repeats: int, *, wall: dict[str, float] | None = None
) -> dict[str, float]:
    """Minimum CPU µs per call per scenario; `wall`, when given, gets the minimum wall µs."""
    scenarios = [s for s in SCENARIOS if s.name in names and isinstance(s, Throughput)]
    async with running_simulator(load_profiles(SIMULATOR_FILE), seed=3) as sim:
        work = Path(tempfile.mkdtemp(prefix="route-cpu-bench-"))
        models = load_fleet(FLEET_FILE, {"SWITCHYARD_SIMULATOR_URL": sim.url})
        known = [m.name.removeprefix("models/") for m in models]
        policy_text, refused = build_policy(BASE_POLICY_FILE.read_text(), scenarios, known)
        if refused:
            raise SystemExit(f"policy refused scenarios: {refused}")
        parse_policy(policy_text, known_models=known)
        state = RouterState(str(work))
        state.apply_fleet_snapshot(registry_pb2.FleetSnapshot(models=models, revision=1))
        state.apply_snapshot(snapshot(policy_text))
        app = build_router(
            state=state,
            environ={},
            review_dir=str(work),
            decision_log=DecisionLogSettings(path=work / "decisions.db"),
        )
        server = await start_server(
            name="router", config=ServerConfig(port=0), register=app.register
        )
        best = {s.name: float("inf") for s in scenarios}
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                stub = router_pb2_grpc.RouterServiceStub(channel)
                requests = {s.name: request_for(s) for s in scenarios}
                for s in scenarios:  # warm-up: pools, estimates, caches
                    for _ in range(calls // 2):
                        await stub.Route(requests[s.name])
                for _ in range(repeats):
                    for s in scenarios:
                        start, started = time.process_time(), time.perf_counter()
                        for _ in range(calls):
                            await stub.Route(requests[s.name])
                        per_call = (time.process_time() - start) / calls * 1e6
                        best[s.name] = min(best[s.name], per_call)
                        if wall is not None:
                            took = (time.perf_counter() - started) / calls * 1e6
                            wall[s.name] = min(wall.get(s.name, float("inf")), took)
        finally:
            await server.stop(0.5)
            await app.close()
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.route_cpu_bench", description=__doc__)
    parser.add_argument("--only", default="single,score,auto")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    wall: dict[str, float] = {}
    figures = asyncio.run(measure(names, args.calls, args.repeats, wall=wall))
    base = figures[names[0]]
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(
        f"Route() CPU per call, in process (min of {args.repeats} x {args.calls} calls;"
        f" load average {load}):"
    )
    for name in names:
        extra = "" if name == names[0] else f"  ({figures[name] - base:+.1f} µs over {names[0]})"
        print(f"  {name:10s} {figures[name]:7.1f} µs{extra}")
    print("Wall time per call (the same calls, one at a time):")
    for name in names:
        extra = "" if name == names[0] else f"  ({wall[name] - wall[names[0]]:+.1f} µs)"
        print(f"  {name:10s} {wall[name]:7.1f} µs{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
