"""What a router holds locally: the active policy and the fleet, persisted to disk.

Snapshots from the control plane are validated before use (NACKed when invalid, the
last good one kept) and written to `state_dir` so a restarted router serves even when
the control plane and the registry are down.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from services.router.artefact_cache import DEFAULT_MAX_BYTES, ArtefactCache
from services.router.artefacts import load_bound_predictor
from services.router.fleet import FleetView, profile_from_proto
from services.router.selection import BoundPredictor
from services.router.selection.share import ShareWindows
from switchyard.controlplane.v1 import controlplane_pb2
from switchyard.policy import Policy, parse_policy
from switchyard.policy.rollout import RolloutSplit, choose_version
from switchyard.registry.v1 import registry_pb2
from switchyard.runtime.errors import FieldViolation, InvalidArgument, Unavailable
from switchyard.runtime.files import write_atomically

log = structlog.get_logger(__name__)

POLICY_FILE = "policy-snapshot.pb"
FLEET_FILE = "fleet-snapshot.pb"
ARTEFACTS_DIR = "artefacts"


@dataclass(frozen=True)
class ActivePolicy:
    version: int
    policy: Policy
    content_hash: str
    # The learned predictor the policy names, loaded and checked on adoption.
    predictor: BoundPredictor | None = None


@dataclass(frozen=True)
class ShadowPlan:
    """A candidate version selected with (and on a sample executed) beside the active one."""

    version: int
    percent: float
    execute_percent: float
    max_spend_micros_per_hour: int


@dataclass(frozen=True)
class PolicySet:
    """What the last good snapshot says: policy versions, the rollout split between them,
    and operator breaker overrides (model id → BreakerOverride enum value)."""

    versions: Mapping[int, ActivePolicy]
    rollout: RolloutSplit
    breaker_overrides: Mapping[str, int] = field(default_factory=dict)
    shadow: ShadowPlan | None = None

    @property
    def active(self) -> ActivePolicy:
        return self.versions[self.rollout.active_version]

    def for_key(self, sticky_key: str) -> ActivePolicy:
        """The version this caller gets: the canary for its sticky bucket, else active."""
        if not self.rollout.canary_version:
            return self.active
        return self.versions[choose_version(self.rollout, sticky_key)]


class RouterState:
    def __init__(
        self,
        state_dir: str | None,
        *,
        artefacts_dir: str = "artefacts",
        artefact_max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._dir = Path(state_dir) if state_dir else None
        self._artefacts_dir = Path(artefacts_dir)
        # Control-plane artefacts live beside the last good snapshot that names them.
        self.artefacts = ArtefactCache(
            (self._dir / ARTEFACTS_DIR) if self._dir else self._artefacts_dir / ARTEFACTS_DIR,
            max_bytes=artefact_max_bytes,
        )
        self.fleet = FleetView()
        # `strong_share` rules' recent gains (Route() feeds them, every planner reads).
        self.share_windows = ShareWindows()
        self._policies: PolicySet | None = None
        self.snapshot_version = ""
        self._policy_ready = asyncio.Event()
        self._policy_listeners: list[Callable[[PolicySet], None]] = []
        self._fleet_ready = asyncio.Event()
        # The raw registry records behind `fleet`, kept to persist the last good copy.
        self._fleet_models: dict[str, registry_pb2.Model] = {}

    @property
    def policies(self) -> PolicySet:
        if self._policies is None:
            raise Unavailable("the router has no routing policy yet", retry_after_s=1.0)
        return self._policies

    async def wait_ready(self) -> None:
        await self._policy_ready.wait()
        await self._fleet_ready.wait()

    # -- policy -----------------------------------------------------------------

    def apply_snapshot(
        self, snapshot: controlplane_pb2.RouterConfigSnapshot, *, persist: bool = True
    ) -> None:
        """Validate and adopt a control-plane snapshot; raise InvalidArgument to NACK it.

        Every policy in it must parse and the rollout must name versions it carries;
        otherwise nothing changes and the last good set stays in force.
        """
        rollout = RolloutSplit(
            snapshot.rollout.active_version,
            snapshot.rollout.canary_version,
            snapshot.rollout.canary_percent,
        )
        carried = {p.version for p in snapshot.policies}
        problems = [
            FieldViolation(f"rollout.{name}", f"version {version} is not in the snapshot")
            for name, version in (
                ("active_version", rollout.active_version),
                ("canary_version", rollout.canary_version),
                ("shadow.version", snapshot.rollout.shadow.version),
            )
            if (version or name == "active_version") and version not in carried
        ]
        problems.extend(self.artefacts.problems(snapshot.artefacts))
        if problems:
            raise InvalidArgument(problems)
        versions: dict[int, ActivePolicy] = {}
        for i, version in enumerate(snapshot.policies):
            try:
                policy = parse_policy(version.source)
            except InvalidArgument as exc:
                raise InvalidArgument(
                    [
                        FieldViolation(f"policies[{i}].{v.field}", v.description)
                        for v in exc.violations
                    ]
                ) from exc
            predictor, unusable = load_bound_predictor(policy, self._artefacts_dir, self.artefacts)
            if unusable:
                raise InvalidArgument(
                    [FieldViolation(f"policies[{i}].{v.field}", v.description) for v in unusable]
                )
            digest = hashlib.sha256(version.source.encode()).hexdigest()
            versions[version.version] = ActivePolicy(version.version, policy, digest, predictor)
        overrides = {
            o.model_id: o.override
            for o in snapshot.breaker_overrides
            if o.override != controlplane_pb2.BREAKER_OVERRIDE_UNSPECIFIED
        }
        wire = snapshot.rollout.shadow
        shadow = (
            ShadowPlan(
                wire.version, wire.percent, wire.execute_percent, wire.max_spend_micros_per_hour
            )
            if wire.version
            else None
        )
        self._policies = PolicySet(versions, rollout, overrides, shadow)
        self.snapshot_version = snapshot.version
        for listener in self._policy_listeners:
            listener(self._policies)
        self._policy_ready.set()
        if persist and self._dir is not None:
            write_atomically(self._dir / POLICY_FILE, snapshot.SerializeToString())
            self.artefacts.prune([a.digest for a in snapshot.artefacts])
        log.info(
            "policy.applied",
            policy_version=rollout.active_version,
            canary_version=rollout.canary_version,
            canary_percent=rollout.canary_percent,
            snapshot=snapshot.version,
        )

    def on_policy(self, listener: Callable[[PolicySet], None]) -> None:
        """Call `listener` with every policy set adopted from now on (and the current one)."""
        self._policy_listeners.append(listener)
        if self._policies is not None:
            listener(self._policies)

    # -- fleet ------------------------------------------------------------------

    def apply_fleet_snapshot(
        self, snapshot: registry_pb2.FleetSnapshot, *, persist: bool = True
    ) -> None:
        self._fleet_models = {m.name: m for m in snapshot.models}
        self.fleet.replace_all((profile_from_proto(m) for m in snapshot.models), snapshot.revision)
        self._fleet_ready.set()
        if persist:
            self._persist_fleet()
        log.info("fleet.loaded", models=len(self.fleet), revision=snapshot.revision)

    def apply_fleet_change(self, change: registry_pb2.ModelRevision) -> None:
        model_id = change.name.removeprefix("models/")
        if change.kind == registry_pb2.CHANGE_KIND_DELETED:
            self._fleet_models.pop(change.name, None)
            self.fleet.remove(model_id, change.revision)
        else:
            self._fleet_models[change.name] = change.model
            self.fleet.upsert(profile_from_proto(change.model), change.revision)
        self._persist_fleet()
        log.info("fleet.changed", model_id=model_id, revision=change.revision)

    def _persist_fleet(self) -> None:
        if self._dir is None:
            return
        snapshot = registry_pb2.FleetSnapshot(
            models=list(self._fleet_models.values()), revision=self.fleet.revision
        )
        write_atomically(self._dir / FLEET_FILE, snapshot.SerializeToString())

    # -- restore ------------------------------------------------------------------

    def restore(self) -> None:
        """Load the last good snapshots from disk, if any (before the streams connect)."""
        if self._dir is None:
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        policy_path = self._dir / POLICY_FILE
        if policy_path.exists():
            snapshot = controlplane_pb2.RouterConfigSnapshot()
            try:
                snapshot.ParseFromString(policy_path.read_bytes())
                self.apply_snapshot(snapshot, persist=False)
            except Exception as exc:  # a corrupt file must not stop the router
                log.warning("policy.restore_failed", error=repr(exc))
        fleet_path = self._dir / FLEET_FILE
        if fleet_path.exists():
            fleet = registry_pb2.FleetSnapshot()
            try:
                fleet.ParseFromString(fleet_path.read_bytes())
                self.apply_fleet_snapshot(fleet, persist=False)
            except Exception as exc:
                log.warning("fleet.restore_failed", error=repr(exc))
