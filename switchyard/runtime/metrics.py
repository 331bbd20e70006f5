"""Prometheus metrics shared by every service's interceptor."""

from __future__ import annotations

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
