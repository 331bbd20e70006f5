"""Policy YAML for tenant limits, rule caches and the stale-cache degrade
(switchyard/policy/budgets.py): values parse, bad ones are field violations."""

from __future__ import annotations

import pytest

from switchyard.policy import parse_policy
from switchyard.policy.budgets import DEFAULT_STEER_ABOVE, RuleCache, TenantLimit
from switchyard.runtime.errors import InvalidArgument

BASE = """
name: p
default:
  name: d
  strategy: {kind: single, model: a}
"""


def violations(source: str) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as info:
        parse_policy(source)
    return {v.field: v.description for v in info.value.violations}


def test_tenants_cache_and_stale_cache_parse() -> None:
    """Named tenants, the default for the rest, a rule's cache and the stale degrade."""
    policy = parse_policy(
        """
name: p
tenants:
  default: {limit_micros: 1000, window_s: 3600}
  acme: {limit_micros: 50000, window_s: 86400, steer_above: 0.9}
degrade: {stale_cache: true}
rules:
  - name: faq
    when: {task_types: [chat]}
    strategy: {kind: single, model: a}
    cache: {ttl_s: 300, max_entries: 10}
default:
  name: d
  strategy: {kind: single, model: a}
"""
    )
    tenants = policy.tenants
    assert tenants.for_tenant("acme") == TenantLimit(50000, 86400, 0.9)
    assert tenants.for_tenant("anyone") == TenantLimit(1000, 3600, DEFAULT_STEER_ABOVE)
    assert policy.rules[0].cache == RuleCache(ttl_s=300.0, max_entries=10)
    assert policy.default.cache is None
    assert policy.degrade.stale_cache is True


def test_without_tenants_nothing_is_limited() -> None:
    """No tenants section: no limits; named tenants only: the rest are not limited."""
    assert not parse_policy(BASE).tenants.enabled
    policy = parse_policy(BASE + "tenants: {acme: {limit_micros: 5, window_s: 60}}\n")
    assert policy.tenants.for_tenant("other") is None
    assert policy.tenants.for_tenant("acme") is not None


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("0", "positive duration"),
        ("-60", "positive duration"),
        ("1.5", "whole seconds"),
        ('"1h"', "positive duration"),
        ("true", "positive duration"),
        ("99999999999", "at most"),
    ],
)
def test_a_window_that_is_not_a_positive_duration_is_refused(window: str, message: str) -> None:
    """window_s must be a positive whole number of seconds, named by its path."""
    found = violations(BASE + f"tenants: {{acme: {{limit_micros: 5, window_s: {window}}}}}\n")
    assert message in found["tenants.acme.window_s"]


def test_tenant_fields_are_checked() -> None:
    """Missing fields, a negative limit, a threshold outside 0..1 and unknown fields are
    each reported with their path."""
    found = violations(
        BASE
        + """
tenants:
  a: {window_s: 60}
  b: {limit_micros: -1, window_s: 60}
  c: {limit_micros: 1, window_s: 60, steer_above: 1.5}
  d: {limit_micros: 1, window_s: 60, color: red}
  e: 7
"""
    )
    assert set(found) == {
        "tenants.a.limit_micros",
        "tenants.b.limit_micros",
        "tenants.c.steer_above",
        "tenants.d.color",
        "tenants.e",
    }


@pytest.mark.parametrize(
    ("cache", "field"),
    [
        ("{ttl_s: 0}", "default.cache.ttl_s"),
        ("{ttl_s: -5}", "default.cache.ttl_s"),
        ("{ttl_s: soon}", "default.cache.ttl_s"),
        ("{max_entries: 10}", "default.cache.ttl_s"),
        ("{ttl_s: 10, max_entries: 0}", "default.cache.max_entries"),
        ("{ttl_s: 10, size: 3}", "default.cache.size"),
        ("300", "default.cache"),
    ],
)
def test_a_cache_ttl_of_zero_or_less_is_refused(cache: str, field: str) -> None:
    """A rule cache needs a positive ttl_s and 1..1,000,000 entries."""
    source = f"""
name: p
default:
  name: d
  strategy: {{kind: single, model: a}}
  cache: {cache}
"""
    assert field in violations(source)


def test_stale_cache_must_be_a_flag() -> None:
    """degrade.stale_cache is true or false."""
    assert "degrade.stale_cache" in violations(BASE + "degrade: {stale_cache: sometimes}\n")
