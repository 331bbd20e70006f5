"""The chaos load: Route() at a fixed rate from worker processes, for as long as the
runner needs, with random client cancellations switched on and off while it runs.

Each worker (spawned, uvloop, one HTTP/2 connection) sends request k at
`start + offset + k / rate` whether or not earlier calls have returned, so a stall
shows as latency, not as a lower offered load (as `bench/client.py` does). It is
bounded: at most `max_in_flight` calls per worker; a send due while the bound is
reached is not made and is counted as `not_sent`. While the runner has cancellation
on, each call is cut short with probability `fraction`, half by a short deadline and
half by `call.cancel()`, at a uniform random point in (1 ms, `cut_max_s`): before the
model call, in the middle of it, or while the verifier runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import grpc

from bench.chaos.outcomes import LOST, OK, CallOutcome
from bench.prom import ROUTE_METHOD

# The answer must come within the deadline; this much more and the call counts as lost.
LOST_GRACE_S = 5.0


def _identity(data: bytes) -> bytes:
    return data


def outcome_from_reply(
    intended_s: float, done_s: float, latency_ms: float, reply: bytes, cut: str
) -> CallOutcome:
    from switchyard.router.v1 import router_pb2

    response = router_pb2.RouteResponse.FromString(reply)
    skipped = router_pb2.ATTEMPT_OUTCOME_SKIPPED
    good = (router_pb2.ATTEMPT_OUTCOME_OK, router_pb2.ATTEMPT_OUTCOME_TRUNCATED)
    called = [a for a in response.attempts if a.outcome != skipped]
    return CallOutcome(
        intended_s=intended_s,
        done_s=done_s,
        latency_ms=latency_ms,
        code=OK,
        degraded=response.degraded,
        panic=response.panic,
        model_id=response.model_id,
        policy_version=response.policy_version,
        model_calls=len(called),
        failed_calls=sum(1 for a in called if a.outcome not in good),
        refused_calls=sum(
            1 for a in called if a.outcome == router_pb2.ATTEMPT_OUTCOME_CONNECTION_ERROR
        ),
        cut=cut,
    )


@dataclass(frozen=True)
class CutSettings:
    fraction: float = 0.0
    cut_max_s: float = 0.08


class _Worker:
    def __init__(
        self,
        conn: Connection,
        target: str,
        request: bytes,
        *,
        rate: float,
        offset_s: float,
        timeout_s: float,
        max_in_flight: int,
        seed: int,
    ) -> None:
        self.conn = conn
        self.channel = grpc.aio.insecure_channel(target)
        self.call = self.channel.unary_unary(
            ROUTE_METHOD, request_serializer=_identity, response_deserializer=_identity
        )
        self.request = request
        self.rate = rate
        self.offset_s = offset_s
        self.timeout_s = timeout_s
        self.max_in_flight = max_in_flight
        self.rng = random.Random(seed)
        self.cuts = CutSettings()
        self.outcomes: list[CallOutcome] = []
        self.not_sent = 0
        self.start_at = 0.0

    async def one(self, intended: float, cut: str, cut_after_s: float) -> None:
        sent = time.monotonic()
        timeout = cut_after_s if cut == "deadline" else self.timeout_s
        call = self.call(self.request, timeout=timeout)
        if cut == "cancel":
            asyncio.get_running_loop().call_later(cut_after_s, call.cancel)
        code, reply = OK, None
        try:
            reply = await asyncio.wait_for(call, timeout + LOST_GRACE_S)
        except grpc.aio.AioRpcError as exc:
            code = exc.code().name
        except asyncio.CancelledError:
            if cut != "cancel":
                raise
            code = "CANCELLED"  # grpc.aio raises CancelledError for a call we cancelled
        except TimeoutError:
            call.cancel()
            code = LOST
        done = time.monotonic()
        start = min(intended, sent)
        latency_ms = (done - start) * 1000.0
        at, end = intended - self.start_at, done - self.start_at
        if reply is None:
            self.outcomes.append(CallOutcome(at, end, latency_ms, code, cut=cut))
        else:
            self.outcomes.append(outcome_from_reply(at, end, latency_ms, reply, cut))

    def _control(self) -> bool:
        """Apply the runner's messages; False once told to stop."""
        while self.conn.poll():
            kind, value = self.conn.recv()
            if kind == "stop":
                return False
            if kind == "cuts":
                self.cuts = value
        return True

    async def run(self) -> None:
        pending: set[asyncio.Task[None]] = set()
        interval = 1.0 / self.rate
        k = 0
        while self._control():
            intended = self.start_at + self.offset_s + k * interval
            k += 1
            delay = intended - time.monotonic()
            if delay > 0.0005:  # timers are ~1 ms grained: send what is due within 0.5 ms
                await asyncio.sleep(delay)
            if len(pending) >= self.max_in_flight:
                self.not_sent += 1
                continue
            cut, after = "", 0.0
            if self.cuts.fraction and self.rng.random() < self.cuts.fraction:
                cut = "deadline" if self.rng.random() < 0.5 else "cancel"
                after = self.rng.uniform(0.001, self.cuts.cut_max_s)
            task = asyncio.create_task(self.one(intended, cut, after))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)


def _worker_main(conn: Connection, target: str, request: bytes, options: dict[str, Any]) -> None:
    import uvloop

    async def main() -> tuple[list[CallOutcome], int]:
        worker = _Worker(conn, target, request, **options)
        try:
            await asyncio.wait_for(worker.channel.channel_ready(), timeout=10)
            conn.send("ready")
            worker.start_at = conn.recv()
            await worker.run()
        finally:
            await worker.channel.close()
        return worker.outcomes, worker.not_sent

    try:
        conn.send(uvloop.run(main()))
    except Exception as exc:  # reported to the parent, which fails the run loudly
        conn.send(exc)


@dataclass(frozen=True)
class LoadResult:
    outcomes: list[CallOutcome]
    not_sent: int


class ChaosLoad:
    """The running load; `start_at` is the monotonic time of its t = 0 (shared by the
    worker processes: CLOCK_MONOTONIC is system-wide on Linux)."""

    def __init__(self, workers: Sequence[Any], pipes: Sequence[Connection], start_at: float):
        self._workers = list(workers)
        self._pipes = list(pipes)
        self.start_at = start_at

    def now(self) -> float:
        return time.monotonic() - self.start_at

    def set_cuts(self, fraction: float, cut_max_s: float = 0.08) -> None:
        for pipe in self._pipes:
            pipe.send(("cuts", CutSettings(fraction, cut_max_s)))

    async def stop(self, timeout_s: float) -> LoadResult:
        for pipe in self._pipes:
            pipe.send(("stop", None))
        outcomes: list[CallOutcome] = []
        not_sent = 0
        try:
            for pipe in self._pipes:
                result = await asyncio.to_thread(_recv, pipe, timeout_s)
                if isinstance(result, Exception):
                    raise result
                worker_outcomes, worker_not_sent = result  # type: ignore[misc]
                outcomes.extend(worker_outcomes)
                not_sent += worker_not_sent
        finally:
            self.kill()
        outcomes.sort(key=lambda o: o.intended_s)
        return LoadResult(outcomes, not_sent)

    def kill(self) -> None:
        for worker in self._workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.kill()


def _recv(pipe: Connection, timeout_s: float) -> object:
    if not pipe.poll(timeout_s):
        raise TimeoutError(f"chaos load worker silent for {timeout_s:.0f} s")
    return pipe.recv()


async def start_load(
    target: str,
    request: bytes,
    *,
    rate: float,
    processes: int = 1,
    timeout_s: float = 10.0,
    max_in_flight: int = 2000,
    seed: int = 1,
) -> ChaosLoad:
    """Start the workers, wait until each has its connection, and start sending."""
    ctx = multiprocessing.get_context("spawn")
    workers, pipes = [], []
    for i in range(processes):
        parent, child = ctx.Pipe()
        options = {
            "rate": rate / processes,
            "offset_s": i / rate,  # staggered: the merged schedule is evenly spaced
            "timeout_s": timeout_s,
            "max_in_flight": max_in_flight,
            "seed": seed * 1000 + i,
        }
        worker = ctx.Process(
            target=_worker_main, args=(child, target, request, options), daemon=True
        )
        worker.start()
        workers.append(worker)
        pipes.append(parent)
    load = ChaosLoad(workers, pipes, 0.0)
    try:
        for pipe in pipes:
            message = await asyncio.to_thread(_recv, pipe, 30.0)
            if isinstance(message, Exception):
                raise message
    except BaseException:
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.kill()
        raise
    load.start_at = time.monotonic() + 0.1
    for pipe in pipes:
        pipe.send(load.start_at)
    return load
