"""Admission at the front of Route()/Plan(): the tenant's rate limit, then the tier's
share of the adaptive concurrency limit (rate_limit.py, concurrency.py).

    with guard.admit(tenant=..., tier=..., limits=policy.rate_limits):
        ...  # the request's work; its latency (or its drop) feeds the limit

A tenant over its rate is RESOURCE_EXHAUSTED `RATE_LIMITED` with QuotaFailure (whose
limit) and RetryInfo (when a token is back); a request its tier may not add is
RESOURCE_EXHAUSTED `OVERLOADED` with RetryInfo (about one mean latency: when slots
should have freed). Neither has done any work, so both are safe to retry. No gRPC here:
the errors are Switchyard errors the server interceptor maps to status details.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2

from services.router.concurrency import Completion, ConcurrencyLimiter, TierShares
from services.router.overload_metrics import CONCURRENCY_LIMIT, IN_FLIGHT, SHED
from services.router.rate_limit import RateRefusal, TenantRateLimiter
from services.router.tenants import ECHO_CHARS
from switchyard.policy.rate_limits import RateLimits
from switchyard.runtime.errors import (
    ERROR_DOMAIN,
    DeadlineExceeded,
    QuotaExhausted,
    QuotaViolation,
    ResourceExhausted,
)

# When to tell a shed caller to come back: about one mean request latency, bounded.
MIN_RETRY_S = 0.1
MAX_RETRY_S = 10.0
DEFAULT_RETRY_S = 1.0
OTHER_TIER = "other"


class RateLimited(QuotaExhausted):
    reason = "RATE_LIMITED"


class Overloaded(ResourceExhausted):
    """Shed before any work: the tier's share of the concurrency limit is full."""

    reason = "OVERLOADED"

    def __init__(self, message: str, *, retry_after_s: float, metadata: dict[str, str]) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.metadata = metadata

    def details(self) -> list[any_pb2.Any]:
        seconds = int(self.retry_after_s)
        retry = error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(
                seconds=seconds, nanos=int((self.retry_after_s - seconds) * 1e9)
            )
        )
        info = error_details_pb2.ErrorInfo(
            reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata
        )
        packed = []
        for message in (retry, info):
            detail = any_pb2.Any()
            detail.Pack(message)
            packed.append(detail)
        return packed


def _echo(value: str) -> str:
    """A request value as errors quote it: cut, since status details ride in trailers."""
    return value if len(value) <= ECHO_CHARS else f"{value[:ECHO_CHARS]}..."


def rate_limited(refusal: RateRefusal, *, now_s: float) -> RateLimited:
    limit = refusal.limit
    tenant = _echo(refusal.tenant)
    description = (
        f"tenant {tenant!r} may send {limit.requests_per_s:g} requests/s"
        f" (burst {limit.burst:g}) to each router"
    )
    return RateLimited(
        f"rate limit exceeded: {description}; retry in {refusal.retry_after_s:.3f} s",
        violations=[QuotaViolation(subject=f"tenant:{tenant}", description=description)],
        reset_at_s=now_s + refusal.retry_after_s,
        now_s=now_s,
        metadata={
            "tenant": tenant,
            "requests_per_s": f"{limit.requests_per_s:g}",
            "burst": f"{limit.burst:g}",
        },
    )


class OverloadGuard:
    """The router's admission: rate limits always, the concurrency limiter when on."""

    def __init__(
        self,
        *,
        limiter: ConcurrencyLimiter | None = None,
        rates: TenantRateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.limiter = limiter
        self.rates = rates or TenantRateLimiter()
        self._clock = clock
        self._wall_clock = wall_clock
        if limiter is not None:
            CONCURRENCY_LIMIT.set_function(lambda: limiter.limit.limit)
            IN_FLIGHT.set_function(lambda: limiter.in_flight)

    def _tier_label(self, tier: str) -> str:
        tiers = self.limiter.tiers if self.limiter is not None else TierShares()
        return tier if tier in tiers.shares else OTHER_TIER

    @contextmanager
    def admit(
        self, *, tenant: str, tier: str, limits: RateLimits, sample: bool = True
    ) -> Iterator[None]:
        """Admit one call or raise RateLimited / Overloaded; `sample=False` (Plan) holds
        a slot but gives the limit no latency."""
        started = self._clock()
        refusal = self.rates.take(tenant, limits, now_s=started)
        if refusal is not None:
            SHED.labels(self._tier_label(tier), "rate_limit").inc()
            raise rate_limited(refusal, now_s=self._wall_clock())
        limiter = self.limiter
        if limiter is None:
            yield
            return
        if not limiter.try_acquire(tier):
            # Nothing ran: the tenant keeps the token it was charged.
            self.rates.refund(tenant)
            SHED.labels(self._tier_label(tier), "concurrency").inc()
            raise self._overloaded(limiter, tier)
        completion = Completion.IGNORED
        try:
            yield
            completion = Completion.SUCCESS if sample else Completion.IGNORED
        except DeadlineExceeded:
            completion = Completion.DROPPED if sample else Completion.IGNORED
            raise
        finally:
            now = self._clock()
            limiter.release(now_s=now, rtt_s=now - started, completion=completion)

    @staticmethod
    def _overloaded(limiter: ConcurrencyLimiter, tier: str) -> Overloaded:
        limit = limiter.limit.limit
        share = limiter.tiers.share(tier)
        long_rtt = limiter.limit.long_rtt_s
        retry_s = min(MAX_RETRY_S, max(MIN_RETRY_S, long_rtt or DEFAULT_RETRY_S))
        return Overloaded(
            f"router overloaded: tier {_echo(tier) or '(none)'!r} is admitted while fewer than"
            f" {share * limit:g} calls are in flight ({share:g} of the concurrency limit"
            f" {limit}); {limiter.in_flight} are; retry in {retry_s:.2f} s",
            retry_after_s=retry_s,
            metadata={
                "tier": _echo(tier),
                "tier_share": f"{share:g}",
                "concurrency_limit": str(limit),
                "in_flight": str(limiter.in_flight),
            },
        )
