"""Prometheus metrics for overload protection: requests shed per tier and reason, the
adaptive concurrency limit and the requests in flight. The tier label is one of the
configured tiers or `other`, so a caller naming tiers cannot grow the label set."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SHED = Counter(
    "switchyard_router_shed",
    "Route()/Plan() calls refused before any work: reason concurrency (the tier's share"
    " of the adaptive limit was full) or rate_limit (the tenant's token bucket was empty)",
    ["tier", "reason"],
)
CONCURRENCY_LIMIT = Gauge(
    "switchyard_router_concurrency_limit",
    "The adaptive concurrency limit: in-flight calls the highest tier may fill",
)
IN_FLIGHT = Gauge(
    "switchyard_router_in_flight",
    "Route()/Plan() calls admitted and not yet finished",
)
