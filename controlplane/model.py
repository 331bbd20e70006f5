"""Control-plane records as immutable values; the store returns them, protos are built from them."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Literal

from controlplane.guard import CanaryGuard
from switchyard.policy.rollout import RolloutSplit

BreakerState = Literal["forced_open", "forced_closed", "draining"]
ArtefactKind = Literal["predictor", "scorer"]
ReplyStatus = Literal["ACK", "NACK"]


def now_us() -> int:
    return time.time_ns() // 1000


def content_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


@dataclass(frozen=True)
class PolicyRecord:
    """One immutable policy version."""

    version: int
    content_hash: str
    author: str
    message: str
    create_time_us: int
    source: str


@dataclass(frozen=True)
class BreakerOverrideRecord:
    """An operator's fleet-wide decision to force one model's breaker."""

    model_id: str
    state: BreakerState
    author: str
    reason: str
    update_time_us: int


@dataclass(frozen=True)
class ShadowSplit:
    """A candidate version routers also select with (and sometimes run), never answer with."""

    version: int = 0
    percent: float = 0.0
    execute_percent: float = 0.0
    max_spend_micros_per_hour: int = 0


@dataclass(frozen=True)
class ArtefactRecord:
    """One uploaded artefact, named by the SHA-256 of its bytes."""

    digest: str
    name: str
    kind: ArtefactKind
    size_bytes: int
    author: str
    create_time_us: int


@dataclass(frozen=True)
class ConfigState:
    """Everything a router snapshot is built from, read in one transaction.

    `generation` is the snapshot version: bumped in the same transaction as any change
    routers must see, so it is monotonic across restarts and identifies the content.
    """

    generation: int
    rollout: RolloutSplit
    policies: tuple[PolicyRecord, ...]
    breaker_overrides: tuple[BreakerOverrideRecord, ...] = ()
    shadow: ShadowSplit = ShadowSplit()
    guard: CanaryGuard | None = None
    # Every artefact the carried policies name by content address.
    artefacts: tuple[ArtefactRecord, ...] = ()

    @property
    def deliverable(self) -> bool:
        """A router can run it only once some policy is active."""
        return self.rollout.active_version > 0

    def check(self) -> None:
        """The snapshot's consistency check: every version the rollout names is present."""
        present = {p.version for p in self.policies}
        wanted = {
            self.rollout.active_version,
            self.rollout.canary_version,
            self.shadow.version,
        } - {0}
        if wanted - present:
            raise ValueError(f"snapshot {self.generation} lacks policy versions {wanted - present}")


@dataclass(frozen=True)
class Published:
    """The outcome of PublishPolicy: the version, whether it is active, and the new state."""

    policy: PolicyRecord
    active: bool
    created: bool
    # Set when routers must hear about it (the active version changed).
    config: ConfigState | None


@dataclass(frozen=True)
class SentSnapshot:
    """What one stream sent under one nonce, so a reply can be attributed."""

    snapshot_version: str
    nonce: str
    active_version: int
    canary_version: int


@dataclass(frozen=True)
class RouterReply:
    router_id: str
    sent: SentSnapshot
    status: ReplyStatus
    error: str
    time_us: int


@dataclass(frozen=True)
class RouterRecord:
    """What the control plane knows about one router: the last snapshot it applied."""

    router_id: str
    first_seen_us: int
    last_seen_us: int
    acked_snapshot_version: str
    acked_active_version: int
    acked_canary_version: int
    ack_time_us: int
    nacked_snapshot_version: str
    nack_error: str
    nack_time_us: int
