"""Read counters from a Prometheus text exposition (the services' /metrics page).

The router counts every RPC it finishes in `switchyard_rpc_total{service,method,code}`;
the bench reads it before and after a run, so the status of each request h2load sent
is known even though h2load itself only sees HTTP 200.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

RPC_TOTAL = "switchyard_rpc_total"
ROUTE_METHOD = "/switchyard.router.v1.RouterService/Route"

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _unescape(value: str) -> str:
    return re.sub(r'\\[\\"n]', lambda m: _UNESCAPE[m.group(0)], value)


def samples(text: str) -> Iterator[tuple[str, dict[str, str], float]]:
    """(metric name, labels, value) for every sample line; comments are skipped."""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        labels: dict[str, str] = {}
        raw = match.group("labels") or ""
        pos = 0
        while pos < len(raw):
            label = _LABEL.match(raw, pos)
            if label is None:
                break
            labels[label.group(1)] = _unescape(label.group(2))
            pos = label.end()
        try:
            value = float(match.group("value"))
        except ValueError:
            continue
        yield match.group("name"), labels, value


def _method_samples(
    text: str, metric: str, method: str, service: str | None
) -> Iterator[tuple[dict[str, str], float]]:
    """(labels, value) of `metric`'s samples for one method (and service, if named)."""
    for name, labels, value in samples(text):
        if name != metric or labels.get("method") != method:
            continue
        if service is not None and labels.get("service") != service:
            continue
        yield labels, value


def rpc_codes(
    text: str, *, method: str = ROUTE_METHOD, service: str | None = None
) -> dict[str, float]:
    """`switchyard_rpc_total` for one method, by status code (summed over services
    unless one is named)."""
    codes: dict[str, float] = {}
    for labels, value in _method_samples(text, RPC_TOTAL, method, service):
        code = labels.get("code", "UNKNOWN")
        codes[code] = codes.get(code, 0.0) + value
    return codes


def add_counts(*parts: Mapping[str, float]) -> dict[str, float]:
    """Counters of several processes (e.g. routers sharing a port) as one."""
    total: dict[str, float] = {}
    for part in parts:
        for key, value in part.items():
            total[key] = total.get(key, 0.0) + value
    return total


RPC_SECONDS_BUCKET = "switchyard_rpc_seconds_bucket"


def rpc_buckets(
    text: str, *, method: str = ROUTE_METHOD, service: str | None = None
) -> dict[float, float]:
    """Cumulative `switchyard_rpc_seconds` buckets for one method: upper bound in
    seconds (math.inf for +Inf) -> calls that took at most that long."""
    buckets: dict[float, float] = {}
    for labels, value in _method_samples(text, RPC_SECONDS_BUCKET, method, service):
        bound = float(labels.get("le", "+Inf").replace("+Inf", "inf"))
        buckets[bound] = buckets.get(bound, 0.0) + value
    return buckets
