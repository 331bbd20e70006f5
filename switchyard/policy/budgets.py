"""Policy YAML for tenant spend limits, per-rule response caches and the stale-cache
degrade: the values and their readers.

```yaml
tenants:                     # spend per tenant per window (micro-USD); absent: no limits
  default: {limit_micros: 5000000, window_s: 3600}   # every tenant not listed (each its own)
  acme: {limit_micros: 50000000, window_s: 86400, steer_above: 0.9}
rules:
  - name: faq
    cache: {ttl_s: 300, max_entries: 1000}           # opt-in response cache for this rule
degrade: {stale_cache: true}                         # an expired cached answer beats none
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from switchyard.policy.reader import FieldReader, join

DEFAULT_TENANT_KEY = "default"
# Above this share of its window's limit a tenant's requests are planned against what
# remains of the window instead of their own budget, so dear models drop out first.
DEFAULT_STEER_ABOVE = 0.8
MAX_WINDOW_S = 366 * 24 * 3600
MAX_TENANTS = 10_000
MAX_TENANT_CHARS = 128
MAX_CACHE_TTL_S = 30 * 24 * 3600
MAX_CACHE_ENTRIES = 1_000_000
DEFAULT_CACHE_ENTRIES = 1024


@dataclass(frozen=True)
class TenantLimit:
    """A tenant may spend `limit_micros` per fixed window of `window_s` seconds
    (windows aligned to the Unix epoch, so every router agrees where one ends)."""

    limit_micros: int
    window_s: int
    steer_above: float = DEFAULT_STEER_ABOVE


@dataclass(frozen=True)
class TenantLimits:
    """Named tenants' limits, and the `default` one every other tenant gets (each with
    a window of its own). No default: unlisted tenants are not limited."""

    named: Mapping[str, TenantLimit] = field(default_factory=dict)
    default: TenantLimit | None = None

    def for_tenant(self, tenant: str) -> TenantLimit | None:
        return self.named.get(tenant, self.default)

    @property
    def enabled(self) -> bool:
        return bool(self.named) or self.default is not None


@dataclass(frozen=True)
class RuleCache:
    """A rule's response cache: answers live `ttl_s` seconds, at most `max_entries`
    of them (least recently used evicted first)."""

    ttl_s: float
    max_entries: int = DEFAULT_CACHE_ENTRIES


def _tenant_limit(r: FieldReader, node: Any, path: str) -> TenantLimit | None:
    m = r.mapping(node, path, ("limit_micros", "window_s", "steer_above"))
    if not isinstance(node, Mapping):
        if node is None:
            r.fail(path, "must be a mapping with limit_micros and window_s")
        return None
    for key in ("limit_micros", "window_s"):
        if m.get(key) is None:
            r.fail(join(path, key), "is required")
    limit = r.integer(m, "limit_micros", path, None, low=0, high=10**15)
    window = m.get("window_s")
    window_s = None
    if window is not None:
        if isinstance(window, bool) or not isinstance(window, int) or not window > 0:
            r.fail(join(path, "window_s"), "must be a positive duration in whole seconds")
        elif window > MAX_WINDOW_S:
            r.fail(join(path, "window_s"), f"at most {MAX_WINDOW_S} seconds (366 days)")
        else:
            window_s = window
    steer = r.number(m, "steer_above", path, DEFAULT_STEER_ABOVE, low=0.0, high=1.0)
    if limit is None or window_s is None:
        return None
    return TenantLimit(limit_micros=limit, window_s=window_s, steer_above=steer)


def read_tenants(r: FieldReader, node: Any, path: str) -> TenantLimits:
    if node is None:
        return TenantLimits()
    if not isinstance(node, Mapping):
        r.fail(path, "must map tenant names (or default) to {limit_micros, window_s}")
        return TenantLimits()
    if len(node) > MAX_TENANTS:
        r.fail(path, f"at most {MAX_TENANTS} tenants")
        return TenantLimits()
    named: dict[str, TenantLimit] = {}
    default = None
    for name, value in node.items():
        if not isinstance(name, str) or not name or len(name) > MAX_TENANT_CHARS:
            r.fail(path, f"tenant names are strings of 1..{MAX_TENANT_CHARS} characters")
            continue
        limit = _tenant_limit(r, value, join(path, name))
        if limit is None:
            continue
        if name == DEFAULT_TENANT_KEY:
            default = limit
        else:
            named[name] = limit
    return TenantLimits(named=named, default=default)


def read_rule_cache(r: FieldReader, node: Any, path: str) -> RuleCache | None:
    if node is None:
        return None
    m = r.mapping(node, path, ("ttl_s", "max_entries"))
    if not isinstance(node, Mapping):
        return None
    ttl = m.get("ttl_s")
    if ttl is None:
        r.fail(join(path, "ttl_s"), "is required: how long a cached answer is fresh, seconds")
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
        r.fail(join(path, "ttl_s"), "must be a positive number of seconds")
        return None
    if ttl > MAX_CACHE_TTL_S:
        r.fail(join(path, "ttl_s"), f"at most {MAX_CACHE_TTL_S} seconds (30 days)")
        return None
    entries = r.integer(
        m, "max_entries", path, DEFAULT_CACHE_ENTRIES, low=1, high=MAX_CACHE_ENTRIES
    )
    return RuleCache(ttl_s=float(ttl), max_entries=entries)


def read_stale_cache(r: FieldReader, degrade: Mapping[str, Any], path: str) -> bool:
    value = degrade.get("stale_cache", False)
    if not isinstance(value, bool):
        r.fail(join(path, "stale_cache"), "must be true or false")
        return False
    return value
