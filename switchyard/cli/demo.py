"""`switchyard demo`: a few hundred varied requests against a running suite, then a table."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import grpc

from switchyard.cli.connection import add_tls_flags, client_config, router_token, tls_from_args
from switchyard.client import (
    DEFAULT_ROUTER,
    DEV_TENANT_TOKEN,
    AsyncRouterClient,
    CallError,
    ClientConfig,
)
from switchyard.router.v1 import router_pb2

TOPICS = (
    "database indexes",
    "photosynthesis",
    "the French revolution",
    "TCP congestion control",
    "sourdough baking",
    "interest rates",
    "black holes",
    "vaccines",
    "jazz harmony",
    "supply chains",
)
CONTEXT = (
    "Our team is reviewing a long internal document before a planning meeting. "
    "It covers background, constraints, open questions, risks and a timeline, and "
    "several people have added comments that partly contradict each other. "
)

REFUSED_CALLER = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


@dataclass(frozen=True)
class DemoRequest:
    kind: str
    request: router_pb2.RouteRequest


def make_requests(n: int, seed: int) -> list[DemoRequest]:
    """A deterministic mix: short chats, long prompts, code, enterprise, JSON extraction."""
    rng = random.Random(seed)
    made: list[DemoRequest] = []
    for _ in range(n):
        topic = rng.choice(TOPICS)
        roll = rng.random()
        tier = "free"
        task = "chat"
        if roll < 0.30:
            kind, text = "short chat", f"In two sentences, what is {topic}?"
        elif roll < 0.45:
            kind, task = "code", "code_generation"
            text = f"Write a Python function that summarises a list of notes about {topic}."
        elif roll < 0.55:
            kind, tier = "enterprise", "enterprise"
            text = f"Draft a short briefing on {topic} for our board."
        else:
            kind = "long prompt"
            task = rng.choice(("summarization", "reasoning", "chat"))
            text = CONTEXT * rng.randint(3, 8) + f"Now explain how {topic} affects the plan."
        made.append(
            DemoRequest(
                kind,
                router_pb2.RouteRequest(
                    messages=[router_pb2.ChatMessage(role="user", content=text)],
                    task_type=task,
                    tier=tier,
                    # No tenant: the router takes it from the token (make run: demo).
                    max_output_tokens=256,
                ),
            )
        )
    return made


@dataclass
class RuleStats:
    requests: int = 0
    models: Counter[str] = field(default_factory=Counter)
    escalated: int = 0
    escalations: int = 0
    degraded: int = 0
    cost_micros: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def drive(
    config: ClientConfig, requests: list[DemoRequest], concurrency: int
) -> dict[str, RuleStats]:
    stats: dict[str, RuleStats] = defaultdict(RuleStats)
    queue: asyncio.Queue[DemoRequest] = asyncio.Queue()
    for r in requests:
        queue.put_nowait(r)
    async with AsyncRouterClient(config) as router:

        async def worker() -> None:
            while not queue.empty():
                item = queue.get_nowait()
                started = time.perf_counter()
                try:
                    reply = await router.route(item.request)
                except CallError as exc:
                    if exc.unreachable and exc.code == grpc.StatusCode.UNAVAILABLE:
                        raise  # nobody listens: one message, not 300 errors
                    if exc.code in REFUSED_CALLER:
                        raise  # the same for every request: one message
                    row = stats["(error)"]
                    row.requests += 1
                    row.errors[exc.code.name] += 1
                    row.latencies_ms.append((time.perf_counter() - started) * 1000)
                    continue
                row = stats[reply.rule]
                row.requests += 1
                row.models[reply.model_id or "(static)"] += 1
                row.escalated += reply.escalations > 0
                row.escalations += reply.escalations
                row.degraded += reply.degraded
                row.cost_micros += reply.total_cost_micros
                row.latencies_ms.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return stats


def render(stats: dict[str, RuleStats], wall_s: float) -> str:
    header = (
        f"{'route (rule)':<22}{'reqs':>6}  {'answered by':<34}{'escal.':>7}{'degr.':>6}"
        f"{'cost µUSD':>11}{'µUSD/req':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
    )
    lines = [header, "-" * len(header)]
    total = RuleStats()
    for rule, row in sorted(stats.items()):
        models = ", ".join(f"{m}×{c}" for m, c in row.models.most_common())
        if row.errors:
            models = ", ".join(f"{c}×{n}" for c, n in row.errors.items())
        lines.append(
            f"{rule:<22}{row.requests:>6}  {models[:33]:<34}{row.escalated:>7}{row.degraded:>6}"
            f"{row.cost_micros:>11}{row.cost_micros / max(row.requests, 1):>9.1f}"
            f"{percentile(row.latencies_ms, 50):>8.0f}{percentile(row.latencies_ms, 95):>8.0f}"
            f"{percentile(row.latencies_ms, 99):>8.0f}"
        )
        total.requests += row.requests
        total.escalated += row.escalated
        total.degraded += row.degraded
        total.cost_micros += row.cost_micros
        total.latencies_ms += row.latencies_ms
    lines.append("-" * len(header))
    lines.append(
        f"{'all':<22}{total.requests:>6}  {'':<34}{total.escalated:>7}{total.degraded:>6}"
        f"{total.cost_micros:>11}{total.cost_micros / max(total.requests, 1):>9.1f}"
        f"{percentile(total.latencies_ms, 50):>8.0f}{percentile(total.latencies_ms, 95):>8.0f}"
        f"{percentile(total.latencies_ms, 99):>8.0f}"
    )
    lines.append(
        f"{total.requests} requests in {wall_s:.1f}s "
        f"({total.requests / max(wall_s, 1e-9):.0f} req/s); 'escal.' counts requests that "
        "escalated past their first stage (verifier reject or failure)."
    )
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("demo", help="send varied requests to a running suite")
    parser.add_argument("--router", default=os.environ.get("SWITCHYARD_ROUTER", DEFAULT_ROUTER))
    parser.add_argument(
        "--token",
        default=os.environ.get("SWITCHYARD_TOKEN"),
        help=f"bearer token ($SWITCHYARD_TOKEN; default: the dev token {DEV_TENANT_TOKEN!r})",
    )
    add_tls_flags(parser)
    parser.add_argument("-n", "--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    parser.set_defaults(func=demo)


def demo(args: argparse.Namespace) -> int:
    requests = make_requests(args.requests, args.seed)
    tls = tls_from_args(args)
    # No client-side retries: the demo shows what the router itself answers.
    config = client_config(
        address=args.router,
        token=router_token(args.token, address=args.router, tls=tls),
        tls=tls,
        timeout_s=30,
        retry=None,
    )
    started = time.perf_counter()
    try:
        stats = asyncio.run(drive(config, requests, args.concurrency))
    except CallError as exc:
        if exc.code in REFUSED_CALLER:
            print(
                f"switchyard demo: the router refused the caller: {exc}"
                " (--token or $SWITCHYARD_TOKEN)"
            )
        else:
            print(f"switchyard demo: cannot reach the router at {args.router}: {exc.code.name}")
        return 1
    print(render(stats, time.perf_counter() - started))
    return 0
