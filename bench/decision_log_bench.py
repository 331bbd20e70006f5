"""The decision log's CPU per decision:

    python -m bench.decision_log_bench [--decisions N] [--caller-ids]

A real router (in process, over gRPC, to the simulator) answers one request; copies of
its trace, each with its own request id, are then handed to the decision log N times and
written. Ids are the router's own (time-ordered: its index appends) or, with
--caller-ids, random ones as callers may send in `x-request-id` (each lands on another
index page). Printed: CPU time per decision in
the router's process (the request path's enqueue, the row building and the send to the
writer) and in the writer process (SQLite's insert), which `make bench`'s router CPU per
request puts in proportion. CPU time, unlike throughput, is little moved by other work
on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import grpc

from bench.cpu import process_cpu_s
from services.router.app import build_router
from services.router.decision_log import DecisionLogSettings
from services.router.observers import RouteTrace
from services.router.state import RouterState
from services.router.testing import SIM_MODELS, ask, feed
from services.simulator.testing import running_simulator
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.logging import new_request_id
from switchyard.runtime.server import start_server


class _LastTrace:
    def __init__(self) -> None:
        self.trace: RouteTrace | None = None

    def observe(self, trace: RouteTrace) -> None:
        self.trace = trace


async def measure(decisions: int, *, caller_ids: bool = False) -> tuple[float, float]:
    async with running_simulator(SIM_MODELS, seed=3) as sim:
        work = Path(tempfile.mkdtemp(prefix="decision-log-bench-"))
        state = RouterState(str(work))
        feed(state, sim.base_url)
        app = build_router(
            state=state,
            environ={},
            review_dir=str(work),
            decision_log=DecisionLogSettings(path=work / "decisions.db"),
        )
        last = _LastTrace()
        app.observe(last)
        server = await start_server(
            name="router", config=ServerConfig(port=0), register=app.register
        )
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                reply: router_pb2.RouteResponse = await router_pb2_grpc.RouterServiceStub(
                    channel
                ).Route(ask())
            assert last.trace is not None and reply.answer
            log = app.decision_log
            assert log is not None
            await log.flush()  # the writer process is up
            writer = log.writer_pid
            assert writer is not None
            fresh = (lambda: os.urandom(16).hex()) if caller_ids else new_request_id
            traces = [replace(last.trace, request_id=fresh()) for _ in range(decisions)]
            writer_start = process_cpu_s(writer) or 0.0
            start = time.process_time()
            for trace in traces:
                log.observe(trace)
                if log.waiting > log.settings.queue_size // 2:
                    await log.flush()  # keep every decision: none dropped, all counted
            await log.flush()
            router_us = (time.process_time() - start) / decisions * 1e6
            writer_us = ((process_cpu_s(writer) or 0.0) - writer_start) / decisions * 1e6
            return router_us, writer_us
        finally:
            await server.stop(0.5)
            await app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--caller-ids", action="store_true", help="random request ids")
    args = parser.parse_args()
    runs = [
        asyncio.run(measure(args.decisions, caller_ids=args.caller_ids)) for _ in range(args.runs)
    ]
    for label, figures in (
        ("router process", sorted(r[0] for r in runs)),
        ("writer process", sorted(r[1] for r in runs)),
    ):
        print(
            f"decision log, {label}: {figures[len(figures) // 2]:.1f} µs of CPU per decision"
            f" (median of {args.runs} runs of {args.decisions}: "
            + ", ".join(f"{f:.1f}" for f in figures)
            + ")"
        )


if __name__ == "__main__":
    main()
