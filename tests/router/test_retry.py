"""Retry pacing (services/router/retry.py): exponential backoff with full jitter, and the
gRFC A6 retry throttle's token bucket at its edges."""

from __future__ import annotations

import pytest

from services.router.retry import RetryThrottle, backoff_s
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
