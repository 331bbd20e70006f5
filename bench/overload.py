"""`python -m bench.overload`: the router under more load than it can serve, with its
adaptive concurrency limit off and then on (docs/router.md, "Overload").

Each phase starts the five real processes (a `slow` model of `--model-ms`), then runs
`--enterprise` and `--free` closed-loop callers for `--seconds`: each sends its next
call when the last one ended; a shed caller waits the RetryInfo delay (with jitter, as
a well-behaved client does) before trying again. It prints, per phase and tier: calls
sent, answered, shed, other errors, answered per second, and the answered calls'
latency (p50, p99, max), plus the router's final concurrency limit. The load generator
is this Python process, on the same cores as the suite: the figures are relative (off
vs on), not the router's capacity (that is `make bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp
import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from prometheus_client.parser import text_string_to_metric_families

from bench.service import free_port_run
from bench.stats import LatencySummary
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.suite import Suite, SuitePorts, SuiteSettings

POLICY = """
name: overload-bench
max_deadline_ms: 20000
budget_micros: 100000
retry: {max_retries: 0}
checks: [{name: non_empty}]
default:
  name: slow
  strategy: {kind: single, model: small}
"""
PROMPT = "Explain how a B-tree keeps itself balanced."
# A shed caller never waits longer than this (a RetryInfo of seconds would idle it).
MAX_BACK_OFF_S = 2.0


@dataclass
class TierTally:
    sent: int = 0
    answered_ms: list[float] = field(default_factory=list)
    shed: int = 0
    other: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TierRow:
    phase: str
    tier: str
    sent: int
    answered: int
    shed: int
    other: dict[str, int]
    answered_per_s: float
    latency: LatencySummary


def retry_delay_s(error: grpc.aio.AioRpcError) -> float:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for packed in status.details if status is not None else []:
        if packed.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            packed.Unpack(info)
            return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return 1.0


async def caller(
    stub: router_pb2_grpc.RouterServiceStub,
    message: router_pb2.RouteRequest,
    until: float,
    tally: TierTally,
    rng: random.Random,
) -> None:
    while time.monotonic() < until:
        sent = time.monotonic()
        tally.sent += 1
        try:
            await stub.Route(message, timeout=15)
            tally.answered_ms.append((time.monotonic() - sent) * 1000)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
                tally.shed += 1
                delay = min(MAX_BACK_OFF_S, retry_delay_s(exc))
                await asyncio.sleep(delay * rng.uniform(0.5, 1.5))
            else:
                name = exc.code().name
                tally.other[name] = tally.other.get(name, 0) + 1


async def concurrency_limit(url: str) -> float | None:
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as reply:
            text = await reply.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "switchyard_router_concurrency_limit":
                return sample.value
    return None


async def run_phase(
    name: str, router_args: Sequence[str], args: argparse.Namespace, work: Path
) -> tuple[list[TierRow], float | None]:
    state = work / name
    state.mkdir(parents=True)
    (state / "simulator.yaml").write_text(
        "models:\n"
        f"  small: {{ttft_ms: {args.model_ms}, tokens_per_second: 0, quality: 1.0,"
        " answer_tokens: 40}\n"
        "  medium: {ttft_ms: 5}\n  large: {ttft_ms: 5}\n  code: {ttft_ms: 5}\n"
    )
    (state / "policy.yaml").write_text(POLICY)
    metrics_port = free_port_run(1)
    suite = Suite(
        SuiteSettings(
            state_dir=state,
            ports=SuitePorts.ephemeral(),
            simulator_file=state / "simulator.yaml",
            policy_file=state / "policy.yaml",
            router_args=("--verifier-mode", "embedded", *router_args),
            router_metrics_ports=(metrics_port,),
        )
    )
    await suite.start()
    try:
        channels = [grpc.aio.insecure_channel(suite.address("router")) for _ in range(8)]
        tallies = {"enterprise": TierTally(), "free": TierTally()}
        rng = random.Random(7)
        until = time.monotonic() + args.seconds
        counts = {"enterprise": args.enterprise, "free": args.free}
        try:
            stubs = [router_pb2_grpc.RouterServiceStub(c) for c in channels]
            await asyncio.gather(
                *(
                    caller(
                        stubs[i % len(stubs)],
                        router_pb2.RouteRequest(
                            messages=[router_pb2.ChatMessage(role="user", content=PROMPT)],
                            tenant=f"{tier}-{i}",
                            tier=tier,
                        ),
                        until,
                        tallies[tier],
                        rng,
                    )
                    for tier, count in counts.items()
                    for i in range(count)
                )
            )
        finally:
            for channel in channels:
                await channel.close()
        limit = await concurrency_limit(f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        await suite.stop()
    rows = [
        TierRow(
            phase=name,
            tier=tier,
            sent=t.sent,
            answered=len(t.answered_ms),
            shed=t.shed,
            other=t.other,
            answered_per_s=len(t.answered_ms) / args.seconds,
            latency=LatencySummary.of(t.answered_ms),
        )
        for tier, t in tallies.items()
    ]
    return rows, limit


def render(rows: Sequence[TierRow], limits: dict[str, float | None]) -> str:
    lines = [
        "| phase | tier | sent | answered | shed | other errors | answered/s"
        " | p50 ms | p99 ms | max ms |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        other = ", ".join(f"{k} {v}" for k, v in sorted(r.other.items())) or "0"
        lines.append(
            f"| {r.phase} | {r.tier} | {r.sent} | {r.answered} | {r.shed} | {other}"
            f" | {r.answered_per_s:.1f} | {r.latency.p50_ms:.0f} | {r.latency.p99_ms:.0f}"
            f" | {r.latency.max_ms:.0f} |"
        )
    for phase, limit in limits.items():
        shown = f"{limit:g}" if limit else "off"  # the gauge reads 0 with no limiter
        lines.append(f"\n{phase}: final concurrency limit {shown}")
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    phases = {
        "limit-off": ("--concurrency-limit-max", "0"),
        "limit-on": (
            "--concurrency-limit-min",
            str(args.min_limit),
            "--concurrency-limit-max",
            str(args.max_limit),
            "--concurrency-window-ms",
            "500",
        ),
    }
    rows: list[TierRow] = []
    limits: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory(prefix="overload-bench-") as work:
        for name, router_args in phases.items():
            phase_rows, limits[name] = await run_phase(name, router_args, args, Path(work))
            rows.extend(phase_rows)
    print(render(rows, limits))
    if args.out:
        Path(args.out).write_text(
            json.dumps(
                {"args": vars(args), "rows": [asdict(r) for r in rows], "limits": limits},
                indent=2,
            )
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="load per phase")
    parser.add_argument("--model-ms", type=int, default=200, help="the model's latency")
    parser.add_argument("--enterprise", type=int, default=20, help="enterprise callers")
    parser.add_argument("--free", type=int, default=200, help="free-tier callers")
    parser.add_argument("--min-limit", type=int, default=16)
    parser.add_argument("--max-limit", type=int, default=128)
    parser.add_argument("--out", default="", help="also write the rows as JSON here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
