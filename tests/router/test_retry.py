"""Retry pacing (services/router/retry.py): exponential backoff with full jitter, and the
gRFC A6 retry throttle's token bucket at its edges."""

from __future__ import annotations

import pytest

from services.router.retry import RetryThrottle, RetryThrottles, backoff_s
from switchyard.policy import RetrySettings

SETTINGS = RetrySettings(base_backoff_ms=10, max_backoff_ms=1000)


@pytest.mark.parametrize(("retry", "ceiling_ms"), [(1, 10), (2, 20), (3, 40), (7, 640), (8, 1000)])
def test_backoff_doubles_per_retry_up_to_the_cap(retry: int, ceiling_ms: int) -> None:
    """Retry n waits up to base·2^(n-1) ms, never more than max_backoff_ms."""
    assert backoff_s(retry, SETTINGS, rng=lambda: 1.0) == pytest.approx(ceiling_ms / 1000)


def test_backoff_is_full_jitter() -> None:
    """The delay is uniform in [0, ceiling): the random draw scales the whole ceiling."""
    assert backoff_s(3, SETTINGS, rng=lambda: 0.0) == 0.0
    assert backoff_s(3, SETTINGS, rng=lambda: 0.25) == pytest.approx(0.010)


def test_retry_after_wins_over_the_backoff() -> None:
    """An upstream Retry-After is the delay, whatever the backoff would be; 0 means now."""
    assert backoff_s(1, SETTINGS, rng=lambda: 1.0, retry_after_s=2.5) == 2.5
    assert backoff_s(8, SETTINGS, rng=lambda: 1.0, retry_after_s=0.0) == 0.0


def test_negative_retry_after_is_ignored() -> None:
    """A negative Retry-After is nonsense: the jittered backoff applies instead."""
    assert backoff_s(2, SETTINGS, rng=lambda: 0.5, retry_after_s=-3.0) == pytest.approx(0.010)


def throttle(max_tokens: float = 10.0, ratio: float = 0.1) -> RetryThrottle:
    return RetryThrottle(RetrySettings(throttle_max_tokens=max_tokens, throttle_token_ratio=ratio))


def record(t: RetryThrottle, *, failures: int = 0, successes: int = 0) -> RetryThrottle:
    """Record the failures, then the successes."""
    for _ in range(failures):
        t.record(success=False)
    for _ in range(successes):
        t.record(success=True)
    return t


def test_full_bucket_allows_retries() -> None:
    """A new throttle starts full: retries are allowed."""
    assert throttle().allows_retry()


def test_retries_stop_at_half_the_bucket() -> None:
    """Each failure costs one token; above half the bucket retries go on, at exactly half
    they stop (10 tokens: 4 failures allow, 5 do not)."""
    assert record(throttle(), failures=4).allows_retry()
    assert not record(throttle(), failures=5).allows_retry()


def test_the_bucket_size_comes_from_the_settings() -> None:
    """throttle_max_tokens 4: half is 2, so one failure allows retries and two stop them."""
    assert record(throttle(max_tokens=4), failures=1).allows_retry()
    assert not record(throttle(max_tokens=4), failures=2).allows_retry()


def test_successes_refund_the_token_ratio() -> None:
    """A success refunds throttle_token_ratio tokens: one 0.5 refund lifts 5 back over half,
    a 0.1 refund needs one success too (5.1 > 5), and none is not enough."""
    assert record(throttle(ratio=0.5), failures=5, successes=1).allows_retry()
    assert record(throttle(ratio=0.1), failures=5, successes=1).allows_retry()
    assert not record(throttle(ratio=0.0), failures=5, successes=3).allows_retry()


def test_refunds_stop_at_a_full_bucket() -> None:
    """Successes never overfill the bucket: after any run of successes, five failures still
    stop retries."""
    overfed = record(throttle(ratio=0.5), successes=100)
    assert not record(overfed, failures=5).allows_retry()


def test_failures_stop_at_an_empty_bucket() -> None:
    """The bucket does not go below zero: after a long outage, recovery needs only enough
    successes to refill past half (0 + 11·0.5 > 5), not to repay every failure."""
    drained = record(throttle(ratio=0.5), failures=100)
    assert not record(drained, successes=10).allows_retry()
    assert record(drained, successes=1).allows_retry()


def bucket(max_tokens: float, ratio: float) -> RetrySettings:
    return RetrySettings(throttle_max_tokens=max_tokens, throttle_token_ratio=ratio)


def test_a_model_keeps_one_throttle_across_policy_versions() -> None:
    """RetryThrottles hands out one bucket per model: the same one while the settings
    stay, the same one (reconfigured) when they change, another for another model."""
    throttles = RetryThrottles()
    first = throttles.get("m", bucket(10, 0.1))
    assert throttles.get("m", bucket(10, 0.1)) is first
    assert throttles.get("m", bucket(4, 0.1)) is first
    assert throttles.get("other", bucket(4, 0.1)) is not first


def test_a_full_bucket_stays_full_under_smaller_settings() -> None:
    """The fill level carries over as a share: a full 10-token bucket becomes a full
    2-token one, so retries go on; its first failure then leaves 1 of 2 and stops them."""
    throttles = RetryThrottles()
    throttles.get("m", bucket(10, 0.1))
    smaller = throttles.get("m", bucket(2, 0.1))
    assert smaller.allows_retry()
    smaller.record(success=False)
    assert not smaller.allows_retry()


def test_a_throttled_model_stays_throttled_under_larger_settings() -> None:
    """Half of a 4-token bucket (two failures) is half of a 100-token one too: still no
    retries, though 98 tokens would remain had the count of failures carried over."""
    throttles = RetryThrottles()
    record(throttles.get("m", bucket(4, 0.1)), failures=2)
    assert not throttles.get("m", bucket(100, 0.1)).allows_retry()


def test_refunds_follow_the_new_token_ratio() -> None:
    """Drained to half under a zero refund ratio, the bucket refills at the new policy's
    ratio: one success at 1.0 lifts 5 of 10 to 6, over half."""
    throttles = RetryThrottles()
    drained = record(throttles.get("m", bucket(10, 0.0)), failures=5, successes=3)
    assert not drained.allows_retry()
    refilled = record(throttles.get("m", bucket(10, 1.0)), successes=1)
    assert refilled.allows_retry()
