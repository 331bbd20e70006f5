"""The canary guard and the rollout figures it judges: pure values and arithmetic.

Routers report cumulative counters per policy version (`VersionCounts`); the control
plane sums the latest report of every router process and the guard compares the sum
with the operator's thresholds once the minimum sample is reached.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields

from switchyard.runtime.errors import FieldViolation

# Upper bounds (ms) of the latency histogram buckets routers report; one more bucket
# counts everything slower. Fixed here so every router's histogram adds up.
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 750,
    1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 20_000, 60_000,
)  # fmt: skip
MAX_MIN_REQUESTS = 10_000_000
MAX_P95_MS = 3_600_000.0


def latency_bucket(latency_ms: float) -> int:
    """The histogram bucket a latency falls in (the last one is unbounded)."""
    for i, bound in enumerate(LATENCY_BUCKETS_MS):
        if latency_ms <= bound:
            return i
    return len(LATENCY_BUCKETS_MS)


def p95_ms(buckets: tuple[int, ...]) -> float:
    """The upper bound of the bucket holding the 95th percentile; 0 with no samples.

    In the unbounded bucket the answer is the last finite bound (a floor, said so in
    docs/controlplane.md)."""
    total = sum(buckets)
    if total == 0:
        return 0.0
    rank = math.ceil(0.95 * total)
    seen = 0
    for i, count in enumerate(buckets):
        seen += count
        if seen >= rank:
            return float(LATENCY_BUCKETS_MS[min(i, len(LATENCY_BUCKETS_MS) - 1)])
    return float(LATENCY_BUCKETS_MS[-1])


def _add_buckets(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    width = max(len(a), len(b))
    return tuple((a[i] if i < len(a) else 0) + (b[i] if i < len(b) else 0) for i in range(width))


@dataclass(frozen=True)
class VersionCounts:
    """What routers saw of one version: counters that only grow within a process."""

    requests: int = 0
    errors: int = 0
    escalations: int = 0
    verified: int = 0
    accepted: int = 0
    cost_micros: int = 0
    latency_buckets: tuple[int, ...] = ()

    def __add__(self, other: VersionCounts) -> VersionCounts:
        return VersionCounts(
            requests=self.requests + other.requests,
            errors=self.errors + other.errors,
            escalations=self.escalations + other.escalations,
            verified=self.verified + other.verified,
            accepted=self.accepted + other.accepted,
            cost_micros=self.cost_micros + other.cost_micros,
            latency_buckets=_add_buckets(self.latency_buckets, other.latency_buckets),
        )

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def escalation_rate(self) -> float:
        return self.escalations / self.requests if self.requests else 0.0

    @property
    def verifier_acceptance(self) -> float:
        return self.accepted / self.verified if self.verified else 0.0

    @property
    def cost_micros_per_1k(self) -> int:
        return round(self.cost_micros * 1000 / self.requests) if self.requests else 0

    @property
    def p95_latency_ms(self) -> float:
        return p95_ms(self.latency_buckets)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> VersionCounts:
        raw = json.loads(text)
        raw["latency_buckets"] = tuple(raw.get("latency_buckets", ()))
        return cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})


@dataclass(frozen=True)
class CanaryGuard:
    """Operator thresholds; 0 means "not checked". min_requests gates every check."""

    min_requests: int = 100
    max_error_rate: float = 0.0
    max_p95_latency_ms: float = 0.0
    max_cost_micros_per_1k: int = 0
    max_escalation_rate: float = 0.0
    min_verifier_acceptance: float = 0.0

    def violations(self, prefix: str = "guard") -> list[FieldViolation]:
        """Every threshold out of range, as field violations (nothing is stored then)."""
        problems: list[FieldViolation] = []

        def bad(name: str, why: str) -> None:
            problems.append(FieldViolation(f"{prefix}.{name}", why))

        if not 1 <= self.min_requests <= MAX_MIN_REQUESTS:
            bad("min_requests", f"must be in [1, {MAX_MIN_REQUESTS}]")
        for name in ("max_error_rate", "max_escalation_rate", "min_verifier_acceptance"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                bad(name, "must be a rate in [0, 1] (0: not checked)")
        if not (
            math.isfinite(self.max_p95_latency_ms) and 0 <= self.max_p95_latency_ms <= MAX_P95_MS
        ):
            bad("max_p95_latency_ms", f"must be in [0, {MAX_P95_MS:g}] ms (0: not checked)")
        if self.max_cost_micros_per_1k < 0:
            bad("max_cost_micros_per_1k", "must not be negative (0: not checked)")
        if not problems and not self.checks_anything:
            bad("max_error_rate", "a guard must set at least one threshold")
        return problems

    @property
    def checks_anything(self) -> bool:
        return any(
            (
                self.max_error_rate,
                self.max_p95_latency_ms,
                self.max_cost_micros_per_1k,
                self.max_escalation_rate,
                self.min_verifier_acceptance,
            )
        )

    def broken(self, counts: VersionCounts) -> str:
        """Which threshold the canary breaks, with the figures; "" when none does."""
        if self.max_error_rate and counts.error_rate > self.max_error_rate:
            return (
                f"max_error_rate: error rate {counts.error_rate:.4f}"
                f" ({counts.errors}/{counts.requests}) > {self.max_error_rate:g}"
            )
        if self.max_p95_latency_ms and counts.p95_latency_ms > self.max_p95_latency_ms:
            return (
                f"max_p95_latency_ms: p95 {counts.p95_latency_ms:g} ms"
                f" > {self.max_p95_latency_ms:g} ms over {counts.requests} requests"
            )
        if self.max_cost_micros_per_1k and counts.cost_micros_per_1k > self.max_cost_micros_per_1k:
            return (
                f"max_cost_micros_per_1k: {counts.cost_micros_per_1k} micros per 1k requests"
                f" > {self.max_cost_micros_per_1k}"
            )
        if self.max_escalation_rate and counts.escalation_rate > self.max_escalation_rate:
            return (
                f"max_escalation_rate: escalation rate {counts.escalation_rate:.4f}"
                f" > {self.max_escalation_rate:g} over {counts.requests} requests"
            )
        if (
            self.min_verifier_acceptance
            and counts.verified
            and counts.verifier_acceptance < self.min_verifier_acceptance
        ):
            return (
                f"min_verifier_acceptance: acceptance {counts.verifier_acceptance:.4f}"
                f" ({counts.accepted}/{counts.verified}) < {self.min_verifier_acceptance:g}"
            )
        return ""

    def verdict(self, counts: VersionCounts) -> Verdict:
        if counts.requests < self.min_requests:
            return Verdict(
                healthy=False,
                judged=False,
                reason=f"waiting for {self.min_requests - counts.requests} more requests",
            )
        reason = self.broken(counts)
        return Verdict(healthy=not reason, judged=True, reason=reason or "healthy")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CanaryGuard | None:
        if not text:
            return None
        raw = json.loads(text)
        return cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})


@dataclass(frozen=True)
class Verdict:
    """The guard's judgement: healthy only once judged over the minimum sample."""

    healthy: bool
    judged: bool
    reason: str = field(default="")
