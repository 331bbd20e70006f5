"""The Python gRPC load client: fixed-rate schedules without coordinated omission,
and small samples that keep each response's attempt trace.

A fixed-rate run splits the rate over worker processes (spawned, each with its own
uvloop and HTTP/2 connection). Each worker sends request k at its intended time
`start + offset + k / rate`, whether or not earlier calls have returned, and measures
latency from the intended time (from the actual send when the timer fired early), so a
stalled server shows up as latency instead of silently lowering the offered load.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import NamedTuple

import grpc

from bench.prom import ROUTE_METHOD


class AttemptTrace(NamedTuple):
    model_id: str
    outcome: int
    verdict: int
    breaker_state: int
    latency_ms: int
    detail: str


class CallRecord(NamedTuple):
    """One call: times in seconds from the run start and milliseconds."""

    intended_s: float
    latency_ms: float
    # How late the send was against its schedule (client-side delay).
    lag_ms: float
    code: str
    model_id: str = ""
    # Sum of the attempts' own latency: the model calls as the router timed them.
    model_ms: float = 0.0
    cost_micros: int = 0
    escalations: int = 0
    degraded: bool = False
    attempts: tuple[AttemptTrace, ...] = ()

    @property
    def added_ms(self) -> float:
        """What the router added on top of the model calls."""
        return max(0.0, self.latency_ms - self.model_ms)


def _identity(data: bytes) -> bytes:
    return data


def _record(
    intended: float,
    sent: float,
    done: float,
    origin: float,
    code: str,
    reply: bytes | None,
    keep_attempts: bool,
) -> CallRecord:
    latency_ms = (done - min(intended, sent)) * 1000.0
    lag_ms = max(0.0, sent - intended) * 1000.0
    if reply is None:
        return CallRecord(intended - origin, latency_ms, lag_ms, code)
    # Decoded here, off the timed path.
    from switchyard.router.v1 import router_pb2

    response = router_pb2.RouteResponse.FromString(reply)
    attempts = tuple(
        AttemptTrace(a.model_id, a.outcome, a.verdict, a.breaker_state, a.latency_ms, a.detail[:80])
        for a in response.attempts
    )
    return CallRecord(
        intended_s=intended - origin,
        latency_ms=latency_ms,
        lag_ms=lag_ms,
        code=code,
        model_id=response.model_id,
        model_ms=float(sum(a.latency_ms for a in response.attempts)),
        cost_micros=response.total_cost_micros,
        escalations=response.escalations,
        degraded=response.degraded,
        attempts=attempts if keep_attempts else (),
    )


class _Caller:
    """One channel and a raw-bytes Route stub (the request is serialized once)."""

    def __init__(self, target: str, method: str, request: bytes, timeout_s: float) -> None:
        self.channel = grpc.aio.insecure_channel(target)
        self.call = self.channel.unary_unary(
            method, request_serializer=_identity, response_deserializer=_identity
        )
        self.request = request
        self.timeout_s = timeout_s

    async def once(self) -> tuple[str, bytes | None]:
        try:
            reply = await self.call(self.request, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as exc:
            return exc.code().name, None
        return "OK", reply


async def _fixed_rate(
    caller: _Caller,
    *,
    rate: float,
    offset_s: float,
    start_at: float,
    duration_s: float,
    keep_attempts: bool,
) -> list[CallRecord]:
    records: list[CallRecord] = []
    pending: set[asyncio.Task[None]] = set()
    interval = 1.0 / rate

    async def one(intended: float) -> None:
        sent = time.monotonic()
        code, reply = await caller.once()
        done = time.monotonic()
        records.append(_record(intended, sent, done, start_at, code, reply, keep_attempts))

    k = 0
    end = start_at + duration_s
    while True:
        intended = start_at + offset_s + k * interval
        if intended >= end:
            break
        delay = intended - time.monotonic()
        if delay > 0.0005:  # timers are ~1 ms grained: send what is due within 0.5 ms
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(intended))
        pending.add(task)
        task.add_done_callback(pending.discard)
        k += 1
    if pending:
        await asyncio.gather(*pending)
    return records


def _worker_main(
    conn: Connection,
    target: str,
    method: str,
    request: bytes,
    rate: float,
    offset_s: float,
    duration_s: float,
    timeout_s: float,
    keep_attempts: bool,
) -> None:
    import uvloop

    async def run() -> tuple[list[CallRecord], float]:
        caller = _Caller(target, method, request, timeout_s)
        await asyncio.wait_for(caller.channel.channel_ready(), timeout=10)
        conn.send("ready")
        start_at = conn.recv()
        cpu_start = time.process_time()  # the client's own CPU during the run, not imports
        try:
            records = await _fixed_rate(
                caller,
                rate=rate,
                offset_s=offset_s,
                start_at=start_at,
                duration_s=duration_s,
                keep_attempts=keep_attempts,
            )
        finally:
            await caller.channel.close()
        return records, time.process_time() - cpu_start

    try:
        conn.send(uvloop.run(run()))
    except Exception as exc:  # reported to the parent, which fails the run loudly
        conn.send(exc)


@dataclass(frozen=True)
class FixedRateRun:
    rate: float
    duration_s: float
    processes: int
    records: list[CallRecord]
    # Wall time from the first intended send to the last reply.
    elapsed_s: float
    # CPU seconds the worker processes used during the run (all of them together).
    client_cpu_s: float = 0.0

    @property
    def codes(self) -> dict[str, int]:
        return dict(Counter(r.code for r in self.records))

    @property
    def achieved_rps(self) -> float:
        return len(self.records) / self.elapsed_s if self.elapsed_s else 0.0


async def fixed_rate(
    target: str,
    request: bytes,
    *,
    rate: float,
    duration_s: float,
    processes: int = 2,
    method: str = ROUTE_METHOD,
    timeout_s: float = 10.0,
    keep_attempts: bool = False,
    on_start: Callable[[float], Awaitable[None]] | None = None,
) -> FixedRateRun:
    """Offer `rate` requests/s for `duration_s` from `processes` worker processes.

    `on_start(start_at)` (a monotonic time, shared by all processes on Linux) runs
    alongside the load, e.g. to inject faults at fixed offsets."""
    ctx = multiprocessing.get_context("spawn")
    per_process = rate / processes
    pipes: list[Connection] = []
    workers = []
    alongside: asyncio.Task[None] | None = None
    for i in range(processes):
        parent, child = ctx.Pipe()
        # Stagger the workers so the merged schedule is evenly spaced.
        offset = i / rate
        worker = ctx.Process(
            target=_worker_main,
            args=(
                child,
                target,
                method,
                request,
                per_process,
                offset,
                duration_s,
                timeout_s,
                keep_attempts,
            ),
            daemon=True,
        )
        worker.start()
        pipes.append(parent)
        workers.append(worker)
    try:
        for pipe in pipes:
            message = await asyncio.to_thread(_recv, pipe, 30.0)
            if isinstance(message, Exception):
                raise message
        start_at = time.monotonic() + 0.2
        for pipe in pipes:
            pipe.send(start_at)
        if on_start is not None:
            alongside = asyncio.create_task(on_start(start_at))
        records: list[CallRecord] = []
        client_cpu_s = 0.0
        for pipe in pipes:
            result = await asyncio.to_thread(_recv, pipe, duration_s + timeout_s + 30.0)
            if isinstance(result, Exception):
                raise result
            worker_records, worker_cpu_s = result  # type: ignore[misc]
            records.extend(worker_records)
            client_cpu_s += worker_cpu_s
        elapsed = time.monotonic() - start_at
        if alongside is not None:
            await alongside
    finally:
        if alongside is not None and not alongside.done():
            alongside.cancel()
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.kill()
    records.sort(key=lambda r: r.intended_s)
    return FixedRateRun(rate, duration_s, processes, records, elapsed, client_cpu_s)


def _recv(pipe: Connection, timeout_s: float) -> object:
    if not pipe.poll(timeout_s):
        raise TimeoutError(f"load worker silent for {timeout_s:.0f} s")
    return pipe.recv()


async def sample(
    target: str,
    request: bytes,
    *,
    count: int,
    concurrency: int = 8,
    method: str = ROUTE_METHOD,
    timeout_s: float = 10.0,
    keep_attempts: bool = True,
) -> list[CallRecord]:
    """`count` calls, `concurrency` at a time, each with its status and trace."""
    caller = _Caller(target, method, request, timeout_s)
    records: list[CallRecord] = []
    origin = time.monotonic()
    remaining = count

    async def lane() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            sent = time.monotonic()
            code, reply = await caller.once()
            done = time.monotonic()
            records.append(_record(sent, sent, done, origin, code, reply, keep_attempts))

    try:
        await asyncio.gather(*(lane() for _ in range(min(concurrency, count))))
    finally:
        await caller.channel.close()
    return records


async def alternating_sample(
    targets: Sequence[tuple[str, bytes]],
    *,
    count: int,
    method: str = ROUTE_METHOD,
    timeout_s: float = 10.0,
) -> list[list[CallRecord]]:
    """`count` calls to each (address, request), one call at a time, the targets taking
    turns (their order reversed every turn: A B B A ...): every target's calls see the
    same moments of a shared machine. One list of records per target, in order."""
    callers = [_Caller(address, method, request, timeout_s) for address, request in targets]
    records: list[list[CallRecord]] = [[] for _ in callers]
    origin = time.monotonic()
    order = list(range(len(callers)))
    try:
        for turn in range(count):
            for index in order if turn % 2 == 0 else reversed(order):
                sent = time.monotonic()
                code, reply = await callers[index].once()
                done = time.monotonic()
                records[index].append(_record(sent, sent, done, origin, code, reply, False))
    finally:
        for caller in callers:
            await caller.channel.close()
    return records


def codes_of(records: Sequence[CallRecord]) -> dict[str, int]:
    return dict(Counter(r.code for r in records))
