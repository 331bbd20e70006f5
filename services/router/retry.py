"""Retry pacing: exponential backoff with full jitter, and gRFC A6 retry throttling."""

from __future__ import annotations

from collections.abc import Callable

from switchyard.policy import RetrySettings


def backoff_s(
    retry: int,
    settings: RetrySettings,
    *,
    rng: Callable[[], float],
    retry_after_s: float | None = None,
) -> float:
    """Delay before retry number `retry` (1-based); an upstream Retry-After wins."""
    if retry_after_s is not None and retry_after_s >= 0:
        return retry_after_s
    ceiling = min(settings.max_backoff_ms, settings.base_backoff_ms * 2 ** (retry - 1))
    return rng() * ceiling / 1000.0


class RetryThrottle:
    """A token bucket per upstream: failures drain it, successes refill it slowly.

    While it holds half its tokens or fewer, retries stop, so a failing model gets
    one attempt per request instead of a retry storm.
    """

    def __init__(self, settings: RetrySettings) -> None:
        self.settings = settings
        self._max = settings.throttle_max_tokens
        self._ratio = settings.throttle_token_ratio
        self._tokens = self._max

    def reconfigure(self, settings: RetrySettings) -> None:
        """New bucket settings; the bucket keeps its fill level as a share of the max,
        so a model that was being throttled stays throttled."""
        share = self._tokens / self._max
        self.settings = settings
        self._max = settings.throttle_max_tokens
        self._ratio = settings.throttle_token_ratio
        self._tokens = share * self._max

    def record(self, *, success: bool) -> None:
        if success:
            self._tokens = min(self._max, self._tokens + self._ratio)
        else:
            self._tokens = max(0.0, self._tokens - 1.0)

    def allows_retry(self) -> bool:
        return self._tokens > self._max / 2
