"""Retry pacing (exponential backoff with full jitter), gRFC A6 retry throttling, and
what a retry changes in the call (temperature, max tokens, stop sequences)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from switchyard.policy import RetryAdjustments, RetrySettings

# The first attempt's sampling temperature; retries lower it (RetryAdjustments).
FIRST_TEMPERATURE = 0.7


@dataclass(frozen=True)
class CallParams:
    """How one attempt asks the model: what a retry may adjust."""

    temperature: float
    max_tokens: int
    stop: tuple[str, ...] = ()


def adjusted(first: CallParams, retry: int, adjust: RetryAdjustments) -> CallParams:
    """The call for retry number `retry` (0: the first attempt, as sent): temperature
    and max tokens multiplied by their factors once per retry, the policy's stop
    sequences added (after the request's own, without duplicates)."""
    if retry <= 0:
        return first
    stop = first.stop + tuple(s for s in adjust.stop if s not in first.stop)
    return dataclasses.replace(
        first,
        temperature=max(0.0, first.temperature * adjust.temperature_factor**retry),
        max_tokens=max(1, int(first.max_tokens * adjust.max_tokens_factor**retry)),
        stop=stop,
    )


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


class RetryThrottles:
    """One RetryThrottle per model, following the policy version in force."""

    def __init__(self) -> None:
        self._throttles: dict[str, RetryThrottle] = {}

    def get(self, model_id: str, settings: RetrySettings) -> RetryThrottle:
        throttle = self._throttles.get(model_id)
        if throttle is None:
            throttle = self._throttles[model_id] = RetryThrottle(settings)
        elif throttle.settings != settings:
            throttle.reconfigure(settings)  # a new policy version takes effect
        return throttle
