"""Planning benchmark: the router's own work per Route() before any model is called, for
the `make bench` scenarios `single`, `score` and `auto`.

    python -m bench.plan_bench [--calls N] [--repeats R] [--only single,score,auto]

Runs in-process what `RouterServicer.Route` does to plan: validate the request
(`route_input`), match the rule, plan it (`plan_route(rule=..., explain=False)`), with
the bench's policy, fleet and requests, online estimates that have seen 300 outcomes
per model, and one latency recorded per call (as every answered attempt records one).
Reports thread-CPU µs per call, the minimum over R repeats of N calls (the repeat least
disturbed by other processes on a shared machine), and each selector's excess over
`single`: the part of issue 12's "router-added latency" that is the selector's.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Sequence

from bench.plan import build_policy, request_for
from bench.scenarios import SCENARIOS, Throughput
from bench.stack import BASE_POLICY_FILE, FLEET_FILE
from services.router.breakers import BreakerState
from services.router.estimates import OutcomeEstimates
from services.router.fleet import FleetView, profile_from_proto
from services.router.planning import plan_route
from services.router.validation import route_input
from switchyard.fleet.file import load_fleet
from switchyard.policy import parse_policy


def _closed(_model: str) -> BreakerState:
    return BreakerState.CLOSED


def time_plans(name: str, calls: int, repeats: int) -> float:
    """Minimum thread-CPU µs per planned request over `repeats` runs of `calls`."""
    # No model is called: the simulator's address only fills the fleet file's endpoints.
    models = load_fleet(FLEET_FILE, {"SWITCHYARD_SIMULATOR_URL": "http://127.0.0.1:9"})
    fleet = FleetView([profile_from_proto(m) for m in models])
    known = [m.name.removeprefix("models/") for m in models]
    policy = parse_policy(build_policy(BASE_POLICY_FILE.read_text(), SCENARIOS, known)[0])
    [scenario] = [s for s in SCENARIOS if s.name == name and isinstance(s, Throughput)]
    request = request_for(scenario)
    estimates = OutcomeEstimates()
    for model in known:
        for i in range(300):
            estimates.record_stage(model, "chat", accepted=True)
            estimates.record_latency(model, "chat", float(1 + i % 5))

    def plan_one() -> None:
        route_in = route_input(request)
        rule = policy.match(route_in.facts)
        plan = plan_route(
            policy=policy,
            request=route_in,
            fleet=fleet,
            breaker_state=_closed,
            remaining_ms=9_000.0,
            estimates=estimates,
            rule=rule,
            explain=False,
        )
        estimates.record_latency(plan.chain[0].model_id, route_in.task_type, 1.0)

    for _ in range(calls):  # warm-up
        plan_one()
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.thread_time_ns()
            for _ in range(calls):
                plan_one()
            best = min(best, (time.thread_time_ns() - start) / calls / 1000)
    finally:
        gc.enable()
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plan_bench", description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--only", default="single,score,auto")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    figures = {name: time_plans(name, args.calls, args.repeats) for name in names}
    print(
        f"planning per Route() (thread CPU, min of {args.repeats} x {args.calls} calls; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):"
    )
    for name, us in figures.items():
        excess = f"  (+{us - figures['single']:.1f} µs over single)" if "single" in figures else ""
        print(f"  {name:<8} {us:7.1f} µs{excess if name != 'single' else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
