"""Per-tenant token buckets (services/router/rate_limit.py) with an explicit clock:
burst, refill, the wait until a token is back, refunds, resizing on a new policy,
and the bounded bucket table."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.rate_limit import TenantRateLimiter, TokenBucket
from switchyard.policy.rate_limits import RateLimit, RateLimits

FIVE = RateLimit(requests_per_s=5.0, burst=2.0)
LIMITS = RateLimits(named={"acme": FIVE})


def test_bucket_grants_its_burst_then_says_when_to_retry() -> None:
    """Two tokens at once; the third waits 1/rate seconds for a token to come back."""
    bucket = TokenBucket(FIVE, now_s=10.0)
    assert bucket.take(now_s=10.0) == 0.0
    assert bucket.take(now_s=10.0) == 0.0
    assert bucket.take(now_s=10.0) == pytest.approx(0.2)
    assert bucket.take(now_s=10.1) == pytest.approx(0.1)  # half a token back by now
    assert bucket.take(now_s=10.2) == 0.0


def test_bucket_refills_to_its_burst_only() -> None:
    """An idle hour refills to the burst, not beyond."""
    bucket = TokenBucket(FIVE, now_s=0.0)
    bucket.take(now_s=0.0)
    bucket.take(now_s=0.0)
    assert [bucket.take(now_s=3600.0) for _ in range(3)][:2] == [0.0, 0.0]
    assert bucket.tokens < 1.0


def test_clock_stepping_back_refills_nothing() -> None:
    """A time before the last one neither adds nor removes tokens."""
    bucket = TokenBucket(FIVE, now_s=10.0)
    bucket.take(now_s=10.0)
    bucket.take(now_s=10.0)
    assert bucket.take(now_s=5.0) == pytest.approx(0.2)
    assert bucket.tokens == pytest.approx(0.0)


def test_refund_gives_one_token_back_up_to_the_burst() -> None:
    """A refunded request's token returns; a full bucket stays full."""
    bucket = TokenBucket(FIVE, now_s=0.0)
    bucket.take(now_s=0.0)
    bucket.refund()
    bucket.refund()
    assert bucket.tokens == 2.0


def test_resize_keeps_the_share_left() -> None:
    """Half the old burst left becomes half the new burst."""
    bucket = TokenBucket(RateLimit(requests_per_s=1.0, burst=4.0), now_s=0.0)
    bucket.take(now_s=0.0)
    bucket.take(now_s=0.0)
    bucket.resize(RateLimit(requests_per_s=10.0, burst=10.0), now_s=0.0)
    assert bucket.tokens == pytest.approx(5.0)


def test_limiter_limits_only_the_tenants_the_policy_names() -> None:
    """acme is refused once its burst is spent, with the wait; others are not limited."""
    limiter = TenantRateLimiter()
    assert limiter.take("acme", LIMITS, now_s=0.0) is None
    assert limiter.take("acme", LIMITS, now_s=0.0) is None
    refusal = limiter.take("acme", LIMITS, now_s=0.0)
    assert refusal is not None
    assert (refusal.tenant, refusal.limit) == ("acme", FIVE)
    assert refusal.retry_after_s == pytest.approx(0.2)
    assert all(limiter.take("other", LIMITS, now_s=0.0) is None for _ in range(100))
    assert len(limiter) == 1


def test_default_gives_each_tenant_its_own_bucket() -> None:
    """With a default, one tenant's traffic does not spend another's tokens."""
    limits = RateLimits(default=RateLimit(requests_per_s=1.0, burst=1.0))
    limiter = TenantRateLimiter()
    assert limiter.take("a", limits, now_s=0.0) is None
    assert limiter.take("a", limits, now_s=0.0) is not None
    assert limiter.take("b", limits, now_s=0.0) is None


def test_new_policy_limit_resizes_the_bucket() -> None:
    """A policy raising acme's burst takes effect on its next request."""
    limiter = TenantRateLimiter()
    limiter.take("acme", LIMITS, now_s=0.0)
    limiter.take("acme", LIMITS, now_s=0.0)
    bigger = RateLimits(named={"acme": RateLimit(requests_per_s=5.0, burst=100.0)})
    assert limiter.take("acme", LIMITS, now_s=0.0) is not None
    # Empty stays empty (share 0 of the new burst), but 10 s now refill 50 of 100.
    assert limiter.take("acme", bigger, now_s=0.0) is not None
    assert sum(limiter.take("acme", bigger, now_s=10.0) is None for _ in range(100)) == 50


def test_refund_through_the_limiter() -> None:
    """A request shed after its token was taken gets the token back."""
    limiter = TenantRateLimiter()
    limiter.take("acme", LIMITS, now_s=0.0)
    limiter.take("acme", LIMITS, now_s=0.0)
    limiter.refund("acme")
    assert limiter.take("acme", LIMITS, now_s=0.0) is None
    limiter.refund("nobody")  # no bucket: nothing to do


def test_bucket_table_is_bounded_least_recent_first() -> None:
    """Past max_buckets the least recently used bucket goes (and comes back full)."""
    limits = RateLimits(default=RateLimit(requests_per_s=1.0, burst=1.0))
    limiter = TenantRateLimiter(max_buckets=2)
    limiter.take("a", limits, now_s=0.0)
    limiter.take("b", limits, now_s=0.0)
    limiter.take("a", limits, now_s=0.0)  # a is now the most recent
    limiter.take("c", limits, now_s=0.0)
    assert len(limiter) == 2
    assert limiter.take("b", limits, now_s=0.0) is None  # evicted: back full
    assert limiter.take("c", limits, now_s=0.0) is not None


def test_long_tenant_names_share_no_prefix_bucket() -> None:
    """Tenants longer than the key limit are told apart by their digest."""
    limits = RateLimits(default=RateLimit(requests_per_s=1.0, burst=1.0))
    limiter = TenantRateLimiter()
    a, b = "x" * 500 + "a", "x" * 500 + "b"
    assert limiter.take(a, limits, now_s=0.0) is None
    assert limiter.take(b, limits, now_s=0.0) is None
    assert limiter.take(a, limits, now_s=0.0) is not None


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.1, max_value=1000.0),
    burst=st.floats(min_value=1.0, max_value=100.0),
    gaps=st.lists(st.floats(min_value=0.0, max_value=2.0), min_size=1, max_size=200),
)
def test_property_grants_never_exceed_burst_plus_rate_times_time(
    rate: float, burst: float, gaps: list[float]
) -> None:
    """Over any arrival times, granted requests <= burst + rate x elapsed, and a
    refusal's wait is exactly when the next token is back."""
    bucket = TokenBucket(RateLimit(requests_per_s=rate, burst=burst), now_s=0.0)
    now, granted = 0.0, 0
    for gap in gaps:
        now += gap
        wait = bucket.take(now_s=now)
        if wait == 0.0:
            granted += 1
        else:
            assert 0.0 < wait <= 1.0 / rate + 1e-9
            assert bucket.take(now_s=now + wait + 1e-9) == 0.0
            granted += 1
            now += wait + 1e-9
        assert granted <= burst + rate * now + 1e-6
