"""Prometheus metrics for money on the request path: token estimates against the
provider's usage, tenant-budget refusals, response-cache lookups, idempotent replays.
Labels are bounded (scripts, cache results); tenants and models are not labels."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter, Histogram

from switchyard.tokens import dominant_script

TOKEN_ESTIMATE_RATIO = Histogram(
    "switchyard_router_token_estimate_ratio",
    "Provider-reported input tokens over the router's estimate, per attempt; above 1 the"
    " estimate (and the reservation made from it) was short",
    ["script"],
    buckets=(0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0),
)
TOKEN_UNDERESTIMATES = Counter(
    "switchyard_router_token_underestimates",
    "Attempts whose reported input tokens exceeded the router's estimate",
    ["script"],
)
TENANT_BUDGET_REFUSALS = Counter(
    "switchyard_router_tenant_budget_refusals",
    "Attempts the tenant ledger refused: the window could not hold their worst case",
)
TENANT_BUDGET_STEERED = Counter(
    "switchyard_router_tenant_budget_steered",
    "Requests planned against what remains of their tenant's window (past steer_above)",
)
RESPONSE_CACHE = Counter(
    "switchyard_router_response_cache",
    "Response-cache lookups by result: hit, miss, stale (served as a degrade answer)",
    ["result"],
)
IDEMPOTENT_REPLAYS = Counter(
    "switchyard_router_idempotent_replays",
    "Requests answered with the stored result of an earlier one with the same key",
)


def observe_token_estimate(
    estimated: int, reported: Sequence[int], contents: Sequence[str]
) -> None:
    """One observation per attempt that reported input tokens."""
    reported = [n for n in reported if n > 0]
    if not reported or estimated <= 0:
        return
    script = dominant_script(contents)
    for tokens in reported:
        TOKEN_ESTIMATE_RATIO.labels(script).observe(tokens / estimated)
        if tokens > estimated:
            TOKEN_UNDERESTIMATES.labels(script).inc()
