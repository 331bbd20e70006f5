"""Latency percentiles and request-count reconciliation: the bench's arithmetic.

Percentiles use the nearest-rank method (the smallest value with at least p % of the
samples at or below it), as latency tools such as HdrHistogram report them: a p99 is
always a latency some request really had.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

OK = "OK"


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values; p in [0, 100]."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {p}")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# Resamples behind a bootstrap interval: on 2,000 calls a side its ends still move by
# tens of µs between seeds (the p99 itself rests on the 20 slowest calls).
BOOTSTRAP_RESAMPLES = 2000


def p99_excess_interval_us(
    base_ms: Sequence[float],
    variant_ms: Sequence[float],
    *,
    level: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """A percentile-bootstrap interval (µs) for p99(variant) − p99(base): each sample is
    resampled with replacement, the nearest-rank p99s subtracted, `level` of the
    differences lie inside. Seeded, so the same samples give the same interval. The two
    are resampled independently, which ignores that calls made in turns share the
    machine's moments (a paired analysis would likely give a narrower interval)."""
    import numpy as np  # only the paired rows need it

    if not base_ms or not variant_ms:
        raise ValueError("a p99 interval needs samples on both sides")
    rng = np.random.default_rng(seed)

    def p99s(values: Sequence[float]) -> np.ndarray:
        data = np.asarray(values, dtype=np.float64)
        rank = max(1, math.ceil(0.99 * len(data)))
        drawn = rng.choice(data, size=(resamples, len(data)), replace=True)
        return np.partition(drawn, rank - 1, axis=1)[:, rank - 1]

    excess = (p99s(variant_ms) - p99s(base_ms)) * 1000.0
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(excess, [tail, 100 - tail])
    return round(float(low), 1), round(float(high), 1)


@dataclass(frozen=True)
class LatencySummary:
    """Milliseconds; zeros when there were no samples (count says so)."""

    count: int = 0
    mean_ms: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0

    @classmethod
    def of(cls, values_ms: Iterable[float]) -> LatencySummary:
        values = sorted(values_ms)
        if not values:
            return cls()
        return cls(
            count=len(values),
            mean_ms=sum(values) / len(values),
            p50_ms=percentile(values, 50),
            p95_ms=percentile(values, 95),
            p99_ms=percentile(values, 99),
            max_ms=values[-1],
        )

    def minus(self, offset_ms: float) -> LatencySummary:
        """The same distribution shifted down by a constant (e.g. the model's own time)."""
        return LatencySummary(
            count=self.count,
            mean_ms=max(0.0, self.mean_ms - offset_ms),
            p50_ms=max(0.0, self.p50_ms - offset_ms),
            p95_ms=max(0.0, self.p95_ms - offset_ms),
            p99_ms=max(0.0, self.p99_ms - offset_ms),
            max_ms=max(0.0, self.max_ms - offset_ms),
        )


def count_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, int]:
    """Per-key growth of monotonically increasing counters (keys new in `after` count
    from 0); keys that did not grow are left out."""
    delta: dict[str, int] = {}
    for key, value in after.items():
        grown = round(value - before.get(key, 0.0))
        if grown:
            delta[key] = grown
    return delta


@dataclass(frozen=True)
class Reconciliation:
    """Does every request sent end as an answer or a typed error, counted once?

    `sent`: requests the client issued. `client_completed`: how many the client saw
    finish (a response with a status, not a dropped connection). `codes`: final status
    per request as counted by the server (gRPC code names; "OK" is an answer).
    `client_codes`, when the client saw codes itself, must match the server's.
    """

    sent: int
    client_completed: int
    codes: Mapping[str, int]
    client_codes: Mapping[str, int] | None = None
    source: str = "server metrics"
    problems: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        problems: list[str] = []
        accounted = sum(self.codes.values())
        if self.client_completed != self.sent:
            problems.append(
                f"{self.sent - self.client_completed} of {self.sent} requests never completed"
                " at the client"
            )
        if accounted != self.sent:
            problems.append(
                f"sent {self.sent} but {self.source} account for {accounted}"
                f" ({self.answered} answered + {self.typed_errors} typed errors)"
            )
        if self.client_codes is not None and dict(self.client_codes) != dict(self.codes):
            problems.append(
                f"client saw {dict(sorted(self.client_codes.items()))},"
                f" {self.source} say {dict(sorted(self.codes.items()))}"
            )
        object.__setattr__(self, "problems", tuple(problems))

    @property
    def answered(self) -> int:
        return self.codes.get(OK, 0)

    @property
    def typed_errors(self) -> int:
        return sum(n for code, n in self.codes.items() if code != OK)

    @property
    def error_codes(self) -> dict[str, int]:
        return {code: n for code, n in sorted(self.codes.items()) if code != OK}

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "answered": self.answered,
            "typed_errors": self.typed_errors,
            "error_codes": self.error_codes,
            "client_completed": self.client_completed,
            "counted_by": self.source,
            "reconciled": self.ok,
            "problems": list(self.problems),
        }


def combine(parts: Sequence[Reconciliation]) -> Reconciliation:
    """Several runs against one target reconciled as one: counts add up, and every
    part's own problems are kept (one run's surplus must not hide another's loss)."""
    codes: dict[str, int] = {}
    for part in parts:
        for code, n in part.codes.items():
            codes[code] = codes.get(code, 0) + n
    result = Reconciliation(
        sent=sum(p.sent for p in parts),
        client_completed=sum(p.client_completed for p in parts),
        codes=codes,
        source=parts[0].source if parts else "server metrics",
    )
    extra = tuple(p for part in parts for p in part.problems if p not in result.problems)
    object.__setattr__(result, "problems", (*result.problems, *extra))
    return result


def histogram_quantile(q: float, cumulative: Mapping[float, float]) -> float | None:
    """Quantile q (0..1) of a cumulative histogram (upper bound -> count at or below),
    interpolated linearly inside the bucket as Prometheus does; None when empty. A
    quantile in the +Inf bucket is reported as the largest finite bound."""
    if not 0 <= q <= 1:
        raise ValueError(f"quantile must be in [0, 1], got {q}")
    bounds = sorted(cumulative)
    if not bounds or cumulative[bounds[-1]] <= 0:
        return None
    total = cumulative[bounds[-1]]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = cumulative[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def histogram_bound(q: float, cumulative: Mapping[float, float]) -> float | None:
    """The smallest bucket bound at or under which at least a fraction q of the
    observations fall: an upper bound on quantile q (math.inf when it lies in the +Inf
    bucket); None when empty."""
    if not 0 <= q <= 1:
        raise ValueError(f"quantile must be in [0, 1], got {q}")
    bounds = sorted(cumulative)
    if not bounds or cumulative[bounds[-1]] <= 0:
        return None
    rank = q * cumulative[bounds[-1]]
    return next(bound for bound in bounds if cumulative[bound] >= rank)
