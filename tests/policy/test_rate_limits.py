"""Policy YAML for per-tenant rate limits (switchyard/policy/rate_limits.py): values
parse with their defaults, bad ones are field violations naming the path."""

from __future__ import annotations

import pytest

from switchyard.policy import parse_policy
from switchyard.policy.rate_limits import RateLimit
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


def test_rate_limits_parse_with_default_burst() -> None:
    """Named tenants, the default for the rest; burst defaults to max(1, rate)."""
    policy = parse_policy(
        BASE
        + """
rate_limits:
  default: {requests_per_s: 20, burst: 40}
  acme: {requests_per_s: 5}
  slow-bot: {requests_per_s: 0.5}
"""
    )
    limits = policy.rate_limits
    assert limits.enabled
    assert limits.for_tenant("acme") == RateLimit(requests_per_s=5.0, burst=5.0)
    assert limits.for_tenant("slow-bot") == RateLimit(requests_per_s=0.5, burst=1.0)
    assert limits.for_tenant("anyone") == RateLimit(requests_per_s=20.0, burst=40.0)


def test_no_rate_limits_means_none() -> None:
    """Absent: nobody is limited; without a default, only the named tenants are."""
    assert not parse_policy(BASE).rate_limits.enabled
    named = parse_policy(BASE + "rate_limits: {acme: {requests_per_s: 1}}").rate_limits
    assert named.for_tenant("other") is None and named.for_tenant("acme") is not None


@pytest.mark.parametrize(
    ("section", "field", "says"),
    [
        ("rate_limits: [1]", "rate_limits", "must map tenant names"),
        ("rate_limits: {acme: 5}", "rate_limits.acme", "must be a mapping"),
        ("rate_limits: {acme: {burst: 3}}", "rate_limits.acme.requests_per_s", "is required"),
        ("rate_limits: {acme: {requests_per_s: 0}}", "rate_limits.acme.requests_per_s", "above 0"),
        ("rate_limits: {acme: {requests_per_s: -1}}", "rate_limits.acme.requests_per_s", "between"),
        ("rate_limits: {acme: {requests_per_s: x}}", "rate_limits.acme.requests_per_s", "number"),
        (
            "rate_limits: {acme: {requests_per_s: 1, burst: 0.5}}",
            "rate_limits.acme.burst",
            "between",
        ),
        ("rate_limits: {acme: {requests_per_s: 1, per: 2}}", "rate_limits.acme.per", "unknown"),
        ("rate_limits: {'': {requests_per_s: 1}}", "rate_limits", "tenant names"),
    ],
)
def test_bad_rate_limits_are_field_violations(section: str, field: str, says: str) -> None:
    """Each bad entry is reported at its own path, with what is wrong."""
    found = violations(BASE + section)
    assert field in found, found
    assert says in found[field]


def test_rate_limit_values_are_checked_when_built() -> None:
    """A RateLimit built in code is held to the same bounds as the YAML."""
    with pytest.raises(ValueError):
        RateLimit(requests_per_s=0.0, burst=1.0)
    with pytest.raises(ValueError):
        RateLimit(requests_per_s=1.0, burst=0.5)
