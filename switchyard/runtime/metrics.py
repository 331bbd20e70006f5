"""Prometheus metrics shared by every service's interceptor."""

from __future__ import annotations

import gc
import time

from prometheus_client import Counter, Histogram, start_http_server

RPC_TOTAL = Counter(
    "switchyard_rpc_total", "RPCs handled, by method and status code", ["service", "method", "code"]
)
RPC_SECONDS = Histogram(
    "switchyard_rpc_seconds",
    "RPC handling time in seconds",
    ["service", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def start_metrics_endpoint(port: int, host: str) -> None:
    """Serve /metrics over HTTP on its own thread; 0 disables it."""
    if port:
        start_http_server(port, addr=host)


GC_PAUSE_SECONDS = Histogram(
    "switchyard_gc_pause_seconds",
    "Garbage-collector pauses by generation: the usual suspect for tail-latency spikes",
    ["generation"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
)


def observe_gc_pauses() -> None:
    """Time every collection (gc.callbacks); idempotent."""
    if _time_collection in gc.callbacks:
        return
    gc.callbacks.append(_time_collection)


_gc_started = 0.0


def _time_collection(phase: str, info: dict[str, int]) -> None:
    global _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
    else:
        GC_PAUSE_SECONDS.labels(str(info.get("generation", -1))).observe(
            time.perf_counter() - _gc_started
        )
