"""The router's adaptive concurrency limit and tier-ordered load shedding.

`GradientLimit` estimates how many requests the router may have in flight, as Netflix's
concurrency-limits `Gradient2Limit` does over a `WindowedLimit`: samples are grouped
into windows (at least `window_s` long and `window_samples` samples); each window's mean
latency is compared with a long-term exponential average of the windows before it.

- latency within `tolerance` × the long-term average: the limit grows by sqrt(limit)
  (the queue it may build), smoothed;
- latency above that: the limit is scaled by the gradient tolerance × long / short
  (at most halved per window, then smoothed), so it shrinks while queues grow;
- a window with a drop (a request that ran out of its deadline): limit × backoff_ratio;
- a window whose peak in-flight stayed under `busy_share` of the limit: unchanged, as
  latency then says nothing about the limit (Netflix's "app-limited" rule; it also keeps
  clients' own short deadlines at low load from shrinking it).

The limit stays within [min_limit, max_limit]. `TierShares` then decides who gets in: a
tier is admitted while in-flight < its share × limit, so as load grows the lowest share
(free) is shed first, then pro, and enterprise (share 1.0) only at the limit itself.
Pure: no I/O, times are the caller's (monotonic seconds).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

# Netflix Gradient2's bounds: a window can at most halve the estimate before smoothing,
# and an inflated long-term average is pulled down once latency is back to half of it.
MIN_GRADIENT = 0.5
LONG_RTT_RESET_RATIO = 2.0
LONG_RTT_DECAY = 0.9
# Windows averaged plainly before the exponential average takes over.
LONG_RTT_WARMUP = 10
# Latencies below this count as this: a ratio of latencies needs no zero.
MIN_RTT_S = 1e-6


@dataclass(frozen=True)
class LimitSettings:
    initial_limit: int = 512
    min_limit: int = 256
    max_limit: int = 4096
    window_s: float = 1.0
    window_samples: int = 10
    tolerance: float = 1.5
    smoothing: float = 0.2
    long_windows: int = 600
    backoff_ratio: float = 0.9
    busy_share: float = 0.25

    def __post_init__(self) -> None:
        if not 1 <= self.min_limit <= self.initial_limit <= self.max_limit:
            raise ValueError(
                "concurrency limits need 1 <= min <= initial <= max, got "
                f"{self.min_limit} <= {self.initial_limit} <= {self.max_limit}"
            )
        if self.window_s <= 0 or self.window_samples < 1:
            raise ValueError("a window needs a positive length and at least one sample")
        if self.tolerance < 1.0:
            raise ValueError("tolerance must be >= 1 (1 = no latency growth tolerated)")
        if not 0 < self.smoothing <= 1 or not 0 < self.backoff_ratio < 1:
            raise ValueError("smoothing must be in (0, 1] and backoff_ratio in (0, 1)")
        if self.long_windows < 1 or not 0 <= self.busy_share <= 1:
            raise ValueError("long_windows must be >= 1 and busy_share in [0, 1]")


class Completion(enum.Enum):
    """How an admitted request ended, as the limit sees it."""

    SUCCESS = "success"  # a latency sample
    DROPPED = "dropped"  # ran out of its deadline: a congestion signal
    IGNORED = "ignored"  # cancelled, or not a sample (Plan): says nothing


@dataclass
class _Window:
    started_s: float
    samples: int = 0
    rtt_total_s: float = 0.0
    rtt_count: int = 0
    peak_in_flight: int = 0
    dropped: bool = False


@dataclass
class GradientLimit:
    settings: LimitSettings = field(default_factory=LimitSettings)

    def __post_init__(self) -> None:
        self.estimate = float(self.settings.initial_limit)
        self.long_rtt_s: float | None = None
        self._long_windows_seen = 0
        self._window: _Window | None = None
        # A window opens when the one before closed; the first one needs only samples.
        self._last_close_s = -math.inf

    @property
    def limit(self) -> int:
        return int(self.estimate)

    def on_sample(self, *, now_s: float, rtt_s: float, in_flight: int, dropped: bool) -> None:
        """One finished request: its latency, the in-flight count it saw, whether dropped."""
        window = self._window
        if window is None:
            window = self._window = _Window(started_s=self._last_close_s)
        window.samples += 1
        window.peak_in_flight = max(window.peak_in_flight, in_flight)
        if dropped:
            window.dropped = True
        else:
            window.rtt_total_s += max(0.0, rtt_s)
            window.rtt_count += 1
        s = self.settings
        if window.samples >= s.window_samples and now_s - window.started_s >= s.window_s:
            self._window = None
            self._last_close_s = now_s
            self.on_window(
                mean_rtt_s=(
                    max(MIN_RTT_S, window.rtt_total_s / window.rtt_count)
                    if window.rtt_count
                    else None
                ),
                peak_in_flight=window.peak_in_flight,
                dropped=window.dropped,
            )

    def on_window(self, *, mean_rtt_s: float | None, peak_in_flight: int, dropped: bool) -> None:
        """Move the estimate after one closed window (public for tests and properties)."""
        s = self.settings
        long_rtt = self._observe_long(mean_rtt_s) if mean_rtt_s else self.long_rtt_s
        if peak_in_flight < s.busy_share * self.estimate:
            return
        if dropped:
            target = self.estimate * s.backoff_ratio
        elif mean_rtt_s and long_rtt:
            gradient = max(MIN_GRADIENT, min(1.0, s.tolerance * long_rtt / mean_rtt_s))
            grown = self.estimate * gradient + math.sqrt(self.estimate)
            target = self.estimate * (1 - s.smoothing) + grown * s.smoothing
        else:
            return
        self.estimate = max(float(s.min_limit), min(float(s.max_limit), target))

    def _observe_long(self, rtt_s: float) -> float:
        self._long_windows_seen += 1
        if self.long_rtt_s is None:
            self.long_rtt_s = rtt_s
        elif self._long_windows_seen <= LONG_RTT_WARMUP:
            n = self._long_windows_seen
            self.long_rtt_s += (rtt_s - self.long_rtt_s) / n
        else:
            factor = 2.0 / (self.settings.long_windows + 1)
            self.long_rtt_s += (rtt_s - self.long_rtt_s) * factor
        if self.long_rtt_s / rtt_s > LONG_RTT_RESET_RATIO:
            # Back to normal after a long overload: don't wait for the average to forget.
            self.long_rtt_s *= LONG_RTT_DECAY
        return self.long_rtt_s


DEFAULT_TIER_SHARES: Mapping[str, float] = {"free": 0.5, "pro": 0.75, "enterprise": 1.0}


@dataclass(frozen=True)
class TierShares:
    """Each tier's share of the limit; tiers not listed get the lowest share."""

    shares: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TIER_SHARES))

    def __post_init__(self) -> None:
        if not self.shares:
            raise ValueError("tier shares need at least one tier")
        for tier, share in self.shares.items():
            if not tier or not 0 < share <= 1:
                raise ValueError(f"tier {tier!r}: a share must be in (0, 1], got {share}")

    @property
    def lowest(self) -> float:
        return min(self.shares.values())

    def share(self, tier: str) -> float:
        return self.shares.get(tier, self.lowest)

    def admits(self, tier: str, *, in_flight: int, limit: int) -> bool:
        return in_flight < self.share(tier) * limit

    @classmethod
    def parse(cls, entries: tuple[str, ...]) -> TierShares:
        """From `tier=share` strings (the router's `tier_shares` setting)."""
        shares: dict[str, float] = {}
        for entry in entries:
            tier, sep, value = entry.partition("=")
            try:
                share = float(value)
            except ValueError:
                share = math.nan
            if not sep or not tier.strip() or math.isnan(share):
                raise ValueError(f"tier share {entry!r}: expected tier=share, e.g. free=0.5")
            if tier.strip() in shares:
                raise ValueError(f"tier share {entry!r}: tier {tier.strip()!r} appears twice")
            shares[tier.strip()] = share
        return cls(shares)


@dataclass
class ConcurrencyLimiter:
    """In-flight requests against the adaptive limit, admitted by tier."""

    limit: GradientLimit = field(default_factory=GradientLimit)
    tiers: TierShares = field(default_factory=TierShares)
    in_flight: int = 0

    def try_acquire(self, tier: str) -> bool:
        if not self.tiers.admits(tier, in_flight=self.in_flight, limit=self.limit.limit):
            return False
        self.in_flight += 1
        return True

    def release(self, *, now_s: float, rtt_s: float, completion: Completion) -> None:
        in_flight = self.in_flight
        self.in_flight = max(0, in_flight - 1)
        if completion is not Completion.IGNORED:
            self.limit.on_sample(
                now_s=now_s,
                rtt_s=rtt_s,
                in_flight=in_flight,
                dropped=completion is Completion.DROPPED,
            )
