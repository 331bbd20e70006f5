"""Policy YAML for per-tenant request rate limits (token buckets): values and reader.

```yaml
rate_limits:                 # requests per second per tenant, per router process
  default: {requests_per_s: 20, burst: 40}   # every tenant not listed (each its own bucket)
  acme: {requests_per_s: 100, burst: 200}
  batch-bot: {requests_per_s: 0.5}           # burst defaults to max(1, requests_per_s)
```

Absent (or without `default`), tenants not listed are not rate limited. The limits live
in the policy, beside the spend limits (`tenants:`), so they are versioned, validated at
publish time and pushed to every router like the rest of it; docs/router.md says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from switchyard.policy.reader import FieldReader, join

DEFAULT_KEY = "default"
MAX_RATE_PER_S = 1_000_000.0
MAX_BURST = 10_000_000.0
MAX_ENTRIES = 10_000
MAX_TENANT_CHARS = 128


@dataclass(frozen=True)
class RateLimit:
    """A bucket of `burst` requests refilled at `requests_per_s`."""

    requests_per_s: float
    burst: float

    def __post_init__(self) -> None:
        if not (0 < self.requests_per_s <= MAX_RATE_PER_S and 1 <= self.burst <= MAX_BURST):
            raise ValueError("a rate limit needs 0 < requests_per_s and 1 <= burst")


@dataclass(frozen=True)
class RateLimits:
    """Named tenants' rate limits, and the `default` one every other tenant gets."""

    named: Mapping[str, RateLimit] = field(default_factory=dict)
    default: RateLimit | None = None

    def for_tenant(self, tenant: str) -> RateLimit | None:
        return self.named.get(tenant, self.default)

    @property
    def enabled(self) -> bool:
        return bool(self.named) or self.default is not None


def _rate_limit(r: FieldReader, node: Any, path: str) -> RateLimit | None:
    if not isinstance(node, Mapping):
        r.fail(path, "must be a mapping with requests_per_s (and optionally burst)")
        return None
    m = r.mapping(node, path, ("requests_per_s", "burst"))
    if m.get("requests_per_s") is None:
        r.fail(join(path, "requests_per_s"), "is required")
        return None
    rate = r.number(m, "requests_per_s", path, -1.0, low=0.0, high=MAX_RATE_PER_S)
    if rate == 0.0:
        r.fail(join(path, "requests_per_s"), "must be above 0 (remove the entry to not limit)")
    burst = r.number(m, "burst", path, max(1.0, rate), low=1.0, high=MAX_BURST)
    if rate <= 0.0:
        return None
    return RateLimit(requests_per_s=rate, burst=burst)


def read_rate_limits(r: FieldReader, node: Any, path: str) -> RateLimits:
    if node is None:
        return RateLimits()
    if not isinstance(node, Mapping):
        r.fail(path, "must map tenant names (or default) to {requests_per_s, burst}")
        return RateLimits()
    if len(node) > MAX_ENTRIES:
        r.fail(path, f"at most {MAX_ENTRIES} tenants")
        return RateLimits()
    named: dict[str, RateLimit] = {}
    default = None
    for name, value in node.items():
        if not isinstance(name, str) or not name or len(name) > MAX_TENANT_CHARS:
            r.fail(path, f"tenant names are strings of 1..{MAX_TENANT_CHARS} characters")
            continue
        limit = _rate_limit(r, value, join(path, name))
        if limit is None:
            continue
        if name == DEFAULT_KEY:
            default = limit
        else:
            named[name] = limit
    return RateLimits(named=named, default=default)
