"""Which policy version serves a request: the active one, or the canary by sticky hash.

Routers and the control plane both import this one function, so they agree on who is
in the canary without talking to each other. It accepts the `Rollout` proto message or
`RolloutSplit` (anything with the three attributes).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

# Percent resolution: 10_000 buckets give 0.01 % steps.
BUCKETS = 10_000


class SupportsRollout(Protocol):
    @property
    def active_version(self) -> int: ...
    @property
    def canary_version(self) -> int: ...
    @property
    def canary_percent(self) -> float: ...


@dataclass(frozen=True)
class RolloutSplit:
    """The active version and an optional canary taking `canary_percent` (0..100) of keys."""

    active_version: int
    canary_version: int = 0
    canary_percent: float = 0.0


def canary_bucket(canary_version: int, sticky_key: str) -> int:
    """A stable bucket in [0, BUCKETS) for a key.

    sha256, not hash(): it must be the same in every process. Salting with the canary
    version gives each new canary a fresh cohort instead of always the same users.
    """
    digest = hashlib.sha256(f"{canary_version}:{sticky_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def choose_version(rollout: SupportsRollout, sticky_key: str) -> int:
    """The policy version for `sticky_key` (tenant, session or idempotency key).

    The same key always gets the same version for a given rollout, and raising the
    percentage only moves keys into the canary, never out of it.
    """
    canary = rollout.canary_version
    percent = rollout.canary_percent
    if canary <= 0 or canary == rollout.active_version or not percent > 0:
        return rollout.active_version
    if percent >= 100:
        return canary
    threshold = round(percent * BUCKETS / 100)
    return canary if canary_bucket(canary, sticky_key) < threshold else rollout.active_version
