"""Measurements shared by the scenarios: saturating throughput with h2load, latency at
concurrency 1, traced samples and fixed-rate runs, each reconciled against the
server's own count of what it answered."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench import client, h2load
from bench.client import CallRecord
from bench.cpu import CpuMeter, CpuUsage
from bench.grpc_frame import GRPC_HEADERS, grpc_url, write_body
from bench.prom import ROUTE_METHOD
from bench.stats import (
    LatencySummary,
    Reconciliation,
    count_delta,
    histogram_quantile,
    percentile,
)

Counts = Callable[[], Awaitable[dict[str, float]]]


@dataclass(frozen=True)
class BenchSettings:
    """Run lengths and load shape; short windows keep `make bench` under 10 minutes."""

    window_s: float = 6.0
    # A short probe estimates the rate; a warm-up of about `warmup_s` follows (JIT,
    # connection pools, caches), then the measured run of about `window_s`.
    probe_requests: int = 300
    warmup_s: float = 2.0
    connections: int = 4
    streams: int = 8
    # Upper bound of requests at concurrency 1 (h2load) for the unloaded latency.
    unloaded_requests: int = 400
    # Requests of the traced sample (Python client, concurrency 1). Its p99 is the
    # 20th-worst call: with 400 (the 4th-worst) the same row's p99 moved by milliseconds
    # between rounds, too much to judge a 300 µs target.
    sample_requests: int = 2000
    # A paired set's interleaved slices (bench/interleaved.py): short, so the members
    # take turns faster than a shared host's speed drifts.
    slice_s: float = 1.5
    client_processes: int = 2
    # More connections spread more evenly over routers sharing a port (the kernel
    # hashes each connection to one); same requests in flight as the other runs.
    scale_connections: int = 16
    scale_streams: int = 2

    @property
    def concurrency(self) -> int:
        """Requests in flight under h2load: HTTP/1.1 peers get as many connections."""
        return self.connections * self.streams


@dataclass(frozen=True)
class LoadTarget:
    """What h2load drives: a URL, the body and headers of every request, and who
    counts the outcomes (the server's own counter by status, or else HTTP status)."""

    label: str
    url: str
    body: Path
    headers: tuple[str, ...]
    pids: Callable[[], Mapping[str, int]]
    counts: Counts | None = None
    h1: bool = False


@dataclass(frozen=True)
class GrpcTarget:
    """A gRPC server under test: where it is, how it counts, which processes serve it,
    and (for the router) its own handling-time histogram."""

    label: str
    address: str
    counts: Counts
    pids: Callable[[], Mapping[str, int]]
    latency_buckets: Counts | None = None

    def load(self, body: Path) -> LoadTarget:
        return LoadTarget(
            self.label,
            grpc_url(self.address, ROUTE_METHOD),
            body,
            GRPC_HEADERS,
            self.pids,
            self.counts,
        )


def summary_dict(s: LatencySummary) -> dict[str, float]:
    return {
        "count": s.count,
        "mean": round(s.mean_ms, 3),
        "p50": round(s.p50_ms, 3),
        "p95": round(s.p95_ms, 3),
        "p99": round(s.p99_ms, 3),
        "max": round(s.max_ms, 3),
    }


@dataclass
class RunLedger:
    """Every run against a target and how its counts reconciled."""

    runs: list[tuple[str, Reconciliation]] = field(default_factory=list)

    def add(self, label: str, reconciliation: Reconciliation) -> Reconciliation:
        self.runs.append((label, reconciliation))
        return reconciliation

    @property
    def ok(self) -> bool:
        return all(r.ok for _, r in self.runs)

    def as_dict(self) -> dict[str, Any]:
        sent = sum(r.sent for _, r in self.runs)
        answered = sum(r.answered for _, r in self.runs)
        errors = sum(r.typed_errors for _, r in self.runs)
        codes: dict[str, int] = {}
        for _, r in self.runs:
            for code, n in r.error_codes.items():
                codes[code] = codes.get(code, 0) + n
        return {
            "sent": sent,
            "answered": answered,
            "typed_errors": errors,
            "error_codes": codes,
            "reconciled": self.ok,
            "runs": {label: r.as_dict() for label, r in self.runs},
        }


def http_codes(result: h2load.H2loadResult) -> dict[str, int]:
    """Outcomes by HTTP status class, for servers without a counter of their own."""
    codes = {"OK": result.status.get("2xx", 0)}
    for cls in ("3xx", "4xx", "5xx"):
        if result.status.get(cls):
            codes[f"HTTP_{cls}"] = result.status[cls]
    return {k: v for k, v in codes.items() if v}


async def h2load_run(
    target: LoadTarget,
    ledger: RunLedger,
    label: str,
    *,
    requests: int,
    connections: int,
    streams: int,
    log_file: Path | None,
) -> tuple[h2load.H2loadResult, CpuUsage]:
    before = await target.counts() if target.counts else {}
    meter = CpuMeter(target.pids())
    result = await h2load.run(
        target.url,
        requests=requests,
        connections=connections,
        streams=1 if target.h1 else streams,
        body=target.body,
        headers=target.headers,
        h1=target.h1,
        log_file=log_file,
    )
    cpu = meter.stop({"h2load": result.cpu_s})
    if target.counts:
        codes = count_delta(before, await target.counts())
        source = f"{target.label} metrics"
    else:
        codes, source = http_codes(result), "HTTP status (h2load)"
    ledger.add(
        label,
        Reconciliation(
            sent=result.started,
            client_completed=sum(result.status.values()),
            codes=codes,
            source=source,
        ),
    )
    return result, cpu


async def traced_sample(
    target: GrpcTarget,
    request: bytes,
    ledger: RunLedger,
    label: str,
    *,
    count: int,
    concurrency: int = 1,
) -> list[CallRecord]:
    before = await target.counts()
    records = await client.sample(target.address, request, count=count, concurrency=concurrency)
    codes = count_delta(before, await target.counts())
    ledger.add(
        label,
        Reconciliation(
            sent=count,
            client_completed=len(records),
            codes=codes,
            client_codes=client.codes_of(records),
            source=f"{target.label} metrics",
        ),
    )
    return records


def sample_figures(records: Sequence[CallRecord]) -> dict[str, Any]:
    """Cost, escalations and router-added latency from a traced sample."""
    answered = [r for r in records if r.code == "OK"]
    if not answered:
        return {"sampled": len(records), "answered": 0}
    cost = sum(r.cost_micros for r in answered) / len(answered)
    return {
        "sampled": len(records),
        "answered": len(answered),
        # micro-USD per request -> USD per 1,000 requests
        "cost_per_1k_usd": round(cost * 1000 / 1e6, 4),
        "escalation_rate": round(sum(1 for r in answered if r.escalations) / len(answered), 4),
        "degraded_rate": round(sum(1 for r in answered if r.degraded) / len(answered), 4),
        "answered_by": _shares(r.model_id for r in answered),
        "latency_ms": summary_dict(LatencySummary.of(r.latency_ms for r in answered)),
        "router_added_ms": summary_dict(LatencySummary.of(r.added_ms for r in answered)),
        "model_ms": summary_dict(LatencySummary.of(r.model_ms for r in answered)),
    }


def _shares(models: Any) -> dict[str, float]:
    counts: dict[str, int] = {}
    for m in models:
        counts[m or "(none)"] = counts.get(m or "(none)", 0) + 1
    total = sum(counts.values()) or 1
    return {m: round(n / total, 4) for m, n in sorted(counts.items())}


async def saturate(
    target: LoadTarget,
    work_dir: Path,
    settings: BenchSettings,
    ledger: RunLedger,
    *,
    name: str,
    connections: int | None = None,
    streams: int | None = None,
) -> dict[str, Any]:
    """Probe, warm up, then the measured saturating run and a run at concurrency 1."""
    if target.h1:  # no multiplexing: as many connections as HTTP/2 has streams in flight
        conns, streams = connections or settings.concurrency, 1
    else:
        conns, streams = connections or settings.connections, streams or settings.streams
    run = partial(h2load_run, target, ledger, connections=conns, streams=streams, log_file=None)
    warm, _ = await run("probe", requests=settings.probe_requests)
    # Warm up until about warmup_s has passed; a cold server's first rate estimate is
    # low, so each round is sized from the previous one's rate.
    warmed_s, rounds = warm.duration_s, 1
    while warmed_s < settings.warmup_s and rounds < 4:
        remaining = settings.warmup_s - warmed_s
        warm, _ = await run(f"warm-up {rounds}", requests=_requests(warm.rps, remaining, 200))
        warmed_s += warm.duration_s
        rounds += 1
    main, cpu = await h2load_run(
        target,
        ledger,
        "saturating",
        requests=_requests(warm.rps, settings.window_s, 500),
        connections=conns,
        streams=streams,
        log_file=work_dir / f"{name}.h2load.log",
    )
    unloaded, _ = await h2load_run(
        target,
        ledger,
        "concurrency-1",
        # About 1.5 s at concurrency 1 (a slow gateway gets fewer requests).
        requests=int(
            min(settings.unloaded_requests, max(100, main.rps * 1.5 / conns / streams * 4))
        ),
        connections=1,
        streams=1,
        log_file=work_dir / f"{name}.c1.log",
    )
    return {
        "throughput_rps": round(main.rps, 1),
        "latency_ms": summary_dict(main.latency),
        "unloaded_latency_ms": summary_dict(unloaded.latency),
        "measured_s": round(main.duration_s, 2),
        "requests": main.started,
        "load": {
            "generator": "h2load",
            "protocol": "HTTP/1.1" if target.h1 else "h2c (gRPC)",
            "connections": conns,
            "streams_per_connection": streams,
        },
        "cpu": cpu.as_dict(),
    }


def _requests(rps: float, seconds: float, floor: int) -> int:
    return int(min(max(rps * seconds, floor), 500_000))


async def throughput(
    target: GrpcTarget,
    request: bytes,
    work_dir: Path,
    settings: BenchSettings,
    *,
    name: str,
    connections: int | None = None,
    streams: int | None = None,
    sample: bool = True,
) -> dict[str, Any]:
    """A gRPC target saturated by h2load, then a traced sample; all reconciled."""
    body = write_body(work_dir / f"{name}.body", request)
    ledger = RunLedger()
    result = await saturate(
        target.load(body),
        work_dir,
        settings,
        ledger,
        name=name,
        connections=connections,
        streams=streams,
    )
    if sample:
        records = await traced_sample(
            target, request, ledger, "traced-sample", count=settings.sample_requests
        )
        result["sample"] = sample_figures(records)
    result["counts"] = ledger.as_dict()
    return result


# Streams one h2load connection may have open: enough that a slow moment never holds
# back a scheduled send.
TIMED_STREAMS = 512
TIMED_RATE_PER_CLIENT = 400


async def fixed_rate_h2load(
    target: GrpcTarget, request: bytes, rate: float, settings: BenchSettings, work_dir: Path
) -> dict[str, Any]:
    """Requests sent on a fixed schedule by h2load (C, a few % of a core), latency from
    its per-request log. With instant simulated models the total latency is an upper
    bound of what the router adds (it includes the model's HTTP round trip)."""
    load = target.load(write_body(work_dir / "fixed-rate.body", request))
    script = work_dir / "fixed-rate.timing"
    ledger = RunLedger()

    # One h2load client keeps its schedule up to about 1,000 sends/s here (its timers
    # are not finer); above that, clients run the same script side by side, so sends
    # go out in pairs (threes, ...) at each tick rather than in bursts of a late timer.
    clients = max(1, math.ceil(rate / TIMED_RATE_PER_CLIENT))

    async def scheduled(label: str, count: int, step_ms: float) -> tuple[Any, CpuUsage]:
        h2load.write_timing_script(script, load.url, count=count, step_ms=step_ms)
        before = await target.counts()
        meter = CpuMeter(target.pids())
        result = await h2load.run(
            load.url,
            requests=count,  # per client with a timing script
            connections=clients,
            streams=TIMED_STREAMS,
            body=load.body,
            headers=load.headers,
            log_file=work_dir / "fixed-rate.h2load.log",
            timing_script=script,
        )
        cpu = meter.stop({"h2load": result.cpu_s})
        ledger.add(
            label,
            Reconciliation(
                sent=result.started,
                client_completed=sum(result.status.values()),
                codes=count_delta(before, await target.counts()),
                source=f"{target.label} metrics",
            ),
        )
        return result, cpu

    # Calibrate: a short run shows how much h2load stretches each gap; the measured run
    # shortens its gaps by that much so the achieved rate is the offered one.
    step_ms = 1000.0 * clients / rate
    probe_count = max(50, int(rate * 1.5 / clients))
    probe, _ = await scheduled("calibration", probe_count, step_ms)
    # Each client's actual gap, from the request start times in h2load's log.
    actual_step_ms = probe.send_span_s * 1000.0 * clients / max(probe.started - 1, 1)
    stretch_ms = max(0.0, actual_step_ms - step_ms)
    buckets_before = await target.latency_buckets() if target.latency_buckets else {}
    result, cpu = await scheduled(
        "fixed-rate",
        max(1, int(rate * settings.window_s / clients)),
        max(step_ms - stretch_ms, step_ms / 2),
    )
    latency = summary_dict(LatencySummary.of(result.latencies_ms))
    return {
        "offered_rps": round(rate, 1),
        "achieved_rps": round(result.send_rps, 1),
        "latency_ms": latency,
        "router_added_ms": latency,
        "router_added_basis": "total latency, an upper bound (instant models)",
        "client_send_lag_p99_ms": None,  # h2load does not report it
        "server_handling_ms": await _server_handling(target, buckets_before),
        "load": {
            "generator": "h2load timing script",
            "connections": clients,
            "streams": TIMED_STREAMS,
        },
        "cpu": cpu.as_dict(),
        "counts": ledger.as_dict(),
    }


async def _server_handling(
    target: GrpcTarget, buckets_before: dict[str, float]
) -> dict[str, float | None]:
    """p50/p99 of the server's own handling-time histogram over the run."""
    if not target.latency_buckets:
        return {}
    buckets = count_delta(buckets_before, await target.latency_buckets())
    cumulative = {b: float(buckets.get(b, 0)) for b in buckets_before | buckets}
    quantiles: dict[str, float | None] = {}
    for q in (0.5, 0.99):
        value = histogram_quantile(q, cumulative)
        quantiles[f"p{round(q * 100)}"] = None if value is None else round(value * 1000, 3)
    return quantiles


async def fixed_rate_point(
    target: GrpcTarget, request: bytes, rate: float, settings: BenchSettings
) -> dict[str, Any]:
    ledger = RunLedger()
    before = await target.counts()
    buckets_before = await target.latency_buckets() if target.latency_buckets else {}
    meters: list[CpuMeter] = []

    async def start_meter(start_at: float) -> None:
        meters.append(CpuMeter(target.pids()))  # from the first send, not worker start-up

    run = await client.fixed_rate(
        target.address,
        request,
        rate=rate,
        duration_s=settings.window_s,
        processes=settings.client_processes,
        on_start=start_meter,
    )
    cpu = meters[0].stop({"python client": run.client_cpu_s})
    codes = count_delta(before, await target.counts())
    ledger.add(
        "fixed-rate",
        Reconciliation(
            sent=len(run.records),
            client_completed=len(run.records),
            codes=codes,
            client_codes=run.codes,
            source=f"{target.label} metrics",
        ),
    )
    answered = [r for r in run.records if r.code == "OK"]
    lags = sorted(r.lag_ms for r in run.records)
    server_side = await _server_handling(target, buckets_before)
    return {
        "offered_rps": round(rate, 1),
        "achieved_rps": round(run.achieved_rps, 1),
        "latency_ms": summary_dict(LatencySummary.of(r.latency_ms for r in answered)),
        "router_added_ms": summary_dict(LatencySummary.of(r.added_ms for r in answered)),
        "client_send_lag_p99_ms": round(percentile(lags, 99), 3) if lags else 0.0,
        # The server's own handling time (its histogram, interpolated in the bucket):
        # free of client-side delays, but includes the model calls.
        "server_handling_ms": server_side,
        "cpu": cpu.as_dict(),
        "counts": ledger.as_dict(),
    }
