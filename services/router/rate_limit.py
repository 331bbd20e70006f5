"""Per-tenant request rate limits: one token bucket per tenant, per router process.

A bucket holds up to `burst` tokens and refills at `requests_per_s`; a request takes
one or is refused with the time until one is back. The limits come from the policy
(`rate_limits:`, switchyard/policy/rate_limits.py), so a new policy version resizes
the buckets, keeping each one's fill share (as the retry throttle does). Pure: the
clock is the caller's `now_s` (monotonic seconds), no I/O.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from switchyard.policy.rate_limits import RateLimit, RateLimits

# Buckets kept at most; the least recently used goes first and comes back full. Bounds
# memory when tenants are request fields (no authentication) that anyone may vary.
MAX_BUCKETS = 10_000
# Longer tenant names are kept as their digest, so a bucket's key stays small.
MAX_KEY_CHARS = 128
# Refills are sums of float products: a token 1e-12 short is a whole token.
EPSILON = 1e-9


class TokenBucket:
    def __init__(self, limit: RateLimit, *, now_s: float) -> None:
        self.limit = limit
        self.tokens = limit.burst
        self._updated_s = now_s

    def _refill(self, now_s: float) -> None:
        # A clock that steps back refills nothing rather than draining the bucket.
        elapsed = max(0.0, now_s - self._updated_s)
        self.tokens = min(self.limit.burst, self.tokens + elapsed * self.limit.requests_per_s)
        self._updated_s = max(self._updated_s, now_s)

    def take(self, *, now_s: float) -> float:
        """Take a token: 0.0 when granted, else the seconds until one is back."""
        self._refill(now_s)
        if self.tokens >= 1.0 - EPSILON:
            self.tokens = max(0.0, self.tokens - 1.0)
            return 0.0
        return (1.0 - self.tokens) / self.limit.requests_per_s

    def refund(self) -> None:
        """Give back a token taken for a request that then did not run."""
        self.tokens = min(self.limit.burst, self.tokens + 1.0)

    def resize(self, limit: RateLimit, *, now_s: float) -> None:
        """Take a new limit, keeping the share of the burst that is left."""
        self._refill(now_s)
        share = self.tokens / self.limit.burst
        self.limit = limit
        self.tokens = share * limit.burst


@dataclass(frozen=True)
class RateRefusal:
    """Why a request was refused: whose limit, which limit, and when to retry."""

    tenant: str
    limit: RateLimit
    retry_after_s: float


class TenantRateLimiter:
    """The buckets of the tenants this router has seen, under the policy's limits."""

    def __init__(self, *, max_buckets: int = MAX_BUCKETS) -> None:
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._max_buckets = max_buckets

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, tenant: str, limits: RateLimits, *, now_s: float) -> RateRefusal | None:
        """Charge one request to `tenant`; a refusal when its bucket is empty."""
        limit = limits.for_tenant(tenant)
        if limit is None:
            return None
        bucket = self._bucket(tenant, limit, now_s)
        wait_s = bucket.take(now_s=now_s)
        if wait_s == 0.0:
            return None
        return RateRefusal(tenant=tenant, limit=limit, retry_after_s=wait_s)

    def refund(self, tenant: str) -> None:
        bucket = self._buckets.get(_key(tenant))
        if bucket is not None:
            bucket.refund()

    def _bucket(self, tenant: str, limit: RateLimit, now_s: float) -> TokenBucket:
        key = _key(tenant)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(limit, now_s=now_s)
            if len(self._buckets) > self._max_buckets:
                self._buckets.popitem(last=False)
            return bucket
        self._buckets.move_to_end(key)
        if bucket.limit != limit:
            bucket.resize(limit, now_s=now_s)
        return bucket


def _key(tenant: str) -> str:
    if len(tenant) <= MAX_KEY_CHARS:
        return tenant
    return "sha256:" + hashlib.sha256(tenant.encode()).hexdigest()
