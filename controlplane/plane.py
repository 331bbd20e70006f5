"""The control plane's operations: publish, activate, canary, breaker overrides, routers.

Plain Python over the store, the router ledger and the distributor; the gRPC servicer
only translates. Every write that changes what routers run is shielded from
cancellation, so a client hanging up can never leave a committed change unpushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from controlplane.artefact_store import ArtefactStore, policy_artefacts
from controlplane.breakers import DEFAULT_LEASE_S, ModelBreaker
from controlplane.distribution import SnapshotDistributor
from controlplane.fleet import Fleet
from controlplane.guard import CanaryGuard
from controlplane.ledger import RouterLedger
from controlplane.metrics import CONTROLPLANE_METRICS
from controlplane.migrations import open_database
from controlplane.model import (
    BreakerOverrideRecord,
    BreakerState,
    ConfigState,
    PolicyRecord,
    Published,
    RouterRecord,
    RouterReply,
    content_hash,
)
from controlplane.rollout_control import RolloutControl
from controlplane.store import PolicyStore
from switchyard.policy import parse_policy
from switchyard.policy.rollout import RolloutSplit
from switchyard.runtime.errors import FieldViolation, InvalidArgument, NotFound, StartupError
from switchyard.runtime.paging import decode_page_token, encode_page_token, page_size_of
from switchyard.runtime.sqlite import SqliteDatabase

log = structlog.get_logger(__name__)

# Fetches the registry's model ids; raises Unavailable when the registry cannot answer.
KnownModels = Callable[[], Awaitable[frozenset[str]]]

MAX_AUTHOR_CHARS = 200
MAX_MESSAGE_CHARS = 4000
MAX_MODEL_ID_CHARS = 128
ANONYMOUS = "anonymous"
DEFAULT_MAX_ARTEFACT_BYTES = 48 * 1024 * 1024


def _check_texts(**fields: tuple[str, int]) -> list[FieldViolation]:
    return [
        FieldViolation(name, f"at most {limit} characters")
        for name, (value, limit) in fields.items()
        if len(value) > limit
    ]


def _raise_if(problems: list[FieldViolation]) -> None:
    if problems:
        raise InvalidArgument(problems)


@dataclass(frozen=True)
class BreakerEntry:
    """One model in ListBreakers: the fleet's merge and the operator's override."""

    model_id: str
    fleet: ModelBreaker | None
    override: BreakerOverrideRecord | None


@dataclass(frozen=True)
class BreakerPage:
    entries: list[BreakerEntry]
    connected: frozenset[str]
    next_page_token: str
    ignored_unknown_router: int
    ignored_stale_nonce: int


@dataclass(frozen=True)
class RouterPage:
    routers: list[RouterRecord]
    connected: frozenset[str]
    current_snapshot_version: int
    next_page_token: str


class ControlPlane:
    def __init__(
        self,
        db: SqliteDatabase,
        distributor: SnapshotDistributor,
        *,
        known_models: KnownModels | None = None,
        max_artefact_bytes: int = DEFAULT_MAX_ARTEFACT_BYTES,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        self._db = db
        self.store = PolicyStore(db)
        self.ledger = RouterLedger(db)
        self.distributor = distributor
        self._known_models = known_models
        self.artefacts = ArtefactStore(db, max_bytes=max_artefact_bytes)
        self.rollout = RolloutControl(
            db, self.store, push=self._push, known_router=self.ledger.known
        )
        self._background: list[asyncio.Task[None]] = []
        self.fleet = Fleet(connected=distributor.connected, lease_s=lease_s)
        self.fleet.configure(distributor.current)
        CONTROLPLANE_METRICS.source = distributor  # /metrics reads this plane's rollout

    @classmethod
    async def open(
        cls,
        db_path: str,
        *,
        known_models: KnownModels | None = None,
        max_artefact_bytes: int = DEFAULT_MAX_ARTEFACT_BYTES,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> ControlPlane:
        """Open the store and start the promotion loop (close() stops it)."""
        db = await open_database(db_path)
        state = await PolicyStore(db).config_state()
        plane = cls(
            db,
            SnapshotDistributor(state),
            known_models=known_models,
            max_artefact_bytes=max_artefact_bytes,
            lease_s=lease_s,
        )
        plane._background.append(asyncio.create_task(plane.rollout.run()))
        return plane

    def drain(self) -> None:
        """End every router stream so shutdown need not wait out the grace period."""
        self.distributor.close()
        self.fleet.changes.close()

    async def close(self) -> None:
        """Idempotent: the stop hook and an error path may both call it."""
        self.distributor.close()
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background.clear()
        await self.fleet.close()
        await self._db.close()

    def _push(self, state: ConfigState | None) -> None:
        if state is not None and self.distributor.update(state):
            self.fleet.configure(state)
            log.info(
                "snapshot.changed",
                snapshot_version=state.generation,
                active_version=state.rollout.active_version,
                canary_version=state.rollout.canary_version,
                canary_percent=state.rollout.canary_percent,
                breaker_overrides=len(state.breaker_overrides),
                routers=len(self.distributor.connected()),
            )

    # --- policies --------------------------------------------------------------------

    async def publish(
        self,
        *,
        source: str,
        author: str,
        message: str,
        validate_only: bool = False,
        activate: bool = False,
        check_registry: bool = True,
    ) -> Published:
        """Validate, then store a new version; nothing is stored if anything is wrong."""
        problems = _check_texts(
            author=(author, MAX_AUTHOR_CHARS), message=(message, MAX_MESSAGE_CHARS)
        )
        known = None
        if check_registry and self._known_models is not None:
            known = await self._known_models()  # Unavailable propagates: nothing stored
        artefacts: tuple[str, ...] = ()
        try:
            artefacts = policy_artefacts(parse_policy(source, known_models=known))
        except InvalidArgument as exc:
            problems = [*exc.violations, *problems]
        _raise_if(problems)
        digest = content_hash(source)
        author = author or ANONYMOUS
        if validate_only:
            return Published(
                PolicyRecord(0, digest, author, message, 0, source),
                active=False,
                created=False,
                config=None,
            )
        return await asyncio.shield(
            self._publish(
                source,
                digest,
                author=author,
                message=message,
                activate=activate,
                artefacts=artefacts,
            )
        )

    async def _publish(
        self,
        source: str,
        digest: str,
        *,
        author: str,
        message: str,
        activate: bool,
        artefacts: tuple[str, ...],
    ) -> Published:
        published = await self.store.publish(
            source=source,
            content_hash=digest,
            author=author,
            message=message,
            activate=activate,
            artefacts=artefacts,
        )
        log.info(
            "policy.published",
            version=published.policy.version,
            created=published.created,
            active=published.active,
            author=author,
        )
        self._push(published.config)
        return published

    async def seed(self, path: str) -> bool:
        """Publish and activate `path` when the store holds no policy yet (first start)."""
        if await self.store.has_policies():
            return False
        try:
            source = await asyncio.to_thread(Path(path).read_text)
        except OSError as exc:
            raise StartupError(f"cannot read seed policy {path}: {exc}") from exc
        try:
            # The registry may still be starting next to us: check the schema only.
            await self.publish(
                source=source,
                author="seed",
                message=f"seeded from {path}",
                activate=True,
                check_registry=False,
            )
        except InvalidArgument as exc:
            raise StartupError(f"seed policy {path} is invalid: {exc.message}") from exc
        return True

    async def get(self, version: int) -> tuple[PolicyRecord, bool]:
        if version < 0:
            raise InvalidArgument([FieldViolation("version", "must be 0 (active) or positive")])
        record = await self.store.get(version)
        if record is None:
            raise NotFound(
                "no policy is active yet"
                if version == 0
                else f"policy version {version} does not exist"
            )
        return record, record.version == await self.store.active_version()

    async def list(self, *, page_size: int, page_token: str) -> tuple[list[PolicyRecord], str, int]:
        size = page_size_of(page_size)
        before = decode_page_token(page_token, "ListPolicies", int)
        records, active = await self.store.list(page_size=size, before=before)
        more = len(records) == size and records[-1].version > 1
        token = encode_page_token(records[-1].version, "ListPolicies") if more else ""
        return records, token, active

    async def rollback(self, version: int, *, author: str) -> PolicyRecord:
        """Make an earlier (or any existing) version active again."""
        if version <= 0:
            raise InvalidArgument([FieldViolation("version", "must be a positive version number")])
        _raise_if(_check_texts(author=(author, MAX_AUTHOR_CHARS)))
        return await asyncio.shield(self._rollback(version, author or ANONYMOUS))

    async def _rollback(self, version: int, author: str) -> PolicyRecord:
        record, state = await self.store.activate(version, author=author, action="rollback")
        log.info("policy.rolled_back", version=version, changed=state is not None, author=author)
        self._push(state)
        return record

    # --- rollout and breakers ----------------------------------------------------------

    async def set_rollout(
        self,
        *,
        canary_version: int,
        percent: float,
        author: str,
        guard: CanaryGuard | None = None,
    ) -> RolloutSplit:
        """Send `percent` of sticky keys to `canary_version`; version 0 removes the canary.

        `guard`: thresholds that roll this canary back automatically (none: unguarded).
        """
        problems = _check_texts(author=(author, MAX_AUTHOR_CHARS))
        if canary_version < 0:
            problems.append(FieldViolation("canary_version", "must be 0 (none) or a version"))
        if canary_version > 0 and not (math.isfinite(percent) and 0 < percent <= 100):
            problems.append(FieldViolation("canary_percent", "must be in (0, 100]"))
        if guard is not None:
            problems.extend(guard.violations())
        _raise_if(problems)
        return await asyncio.shield(
            self._set_rollout(canary_version, percent, author or ANONYMOUS, guard)
        )

    async def _set_rollout(
        self, canary_version: int, percent: float, author: str, guard: CanaryGuard | None
    ) -> RolloutSplit:
        split, state = await self.store.set_canary(
            canary_version, percent, author=author, guard=guard
        )
        log.info(
            "rollout.changed",
            canary_version=split.canary_version,
            canary_percent=split.canary_percent,
            changed=state is not None,
            author=author,
        )
        self._push(state)
        return split

    async def set_breaker_override(
        self, *, model_id: str, state: BreakerState | None, author: str, reason: str
    ) -> tuple[BreakerOverrideRecord, ...]:
        """Force a model's breaker on every router, or (None) hand it back to the routers."""
        problems = _check_texts(
            author=(author, MAX_AUTHOR_CHARS),
            reason=(reason, MAX_MESSAGE_CHARS),
            model_id=(model_id, MAX_MODEL_ID_CHARS),
        )
        if not model_id:
            problems.append(FieldViolation("model_id", "is required"))
        _raise_if(problems)
        # Removing an override stays possible after the model left the registry.
        if state is not None and self._known_models is not None:
            if model_id not in await self._known_models():
                raise NotFound(f"model {model_id!r} is not in the registry")
        return await asyncio.shield(
            self._set_breaker_override(model_id, state, author or ANONYMOUS, reason)
        )

    async def _set_breaker_override(
        self, model_id: str, state: BreakerState | None, author: str, reason: str
    ) -> tuple[BreakerOverrideRecord, ...]:
        config = await self.store.set_breaker_override(
            model_id, state, author=author, reason=reason
        )
        log.info(
            "breaker.override",
            model_id=model_id,
            state=state or "none",
            changed=config is not None,
            author=author,
            reason=reason,
        )
        self._push(config)
        return (config or await self.store.config_state()).breaker_overrides

    # --- routers ---------------------------------------------------------------------

    async def record_reply(self, reply: RouterReply) -> None:
        CONTROLPLANE_METRICS.replies.add((reply.status,))
        await self.ledger.record_reply(reply)
        log.info(
            "router.acked" if reply.status == "ACK" else "router.nacked",
            router_id=reply.router_id,
            snapshot_version=reply.sent.snapshot_version,
            nonce=reply.sent.nonce,
            error=reply.error or None,
        )

    async def routers(self, *, page_size: int, page_token: str) -> RouterPage:
        size = page_size_of(page_size)
        after = decode_page_token(page_token, "ListRouters", str) or ""
        records = await self.ledger.routers(after=after, limit=size + 1)
        more = len(records) > size
        records = records[:size]
        return RouterPage(
            routers=records,
            connected=self.distributor.connected(),
            current_snapshot_version=self.distributor.current.generation,
            next_page_token=encode_page_token(records[-1].router_id, "ListRouters") if more else "",
        )

    # --- fleet breakers ----------------------------------------------------------------

    async def breakers(self, *, page_size: int, page_token: str) -> BreakerPage:
        """The fleet view joined with the overrides, by model id, one page."""
        size = page_size_of(page_size)
        after = decode_page_token(page_token, "ListBreakers", str) or ""
        overrides = {o.model_id: o for o in self.distributor.current.breaker_overrides}
        fleet = {m.model_id: m for m in self.fleet.breakers.models()}
        ids = sorted(i for i in fleet.keys() | overrides.keys() if i > after)
        page = ids[:size]
        more = len(ids) > size
        return BreakerPage(
            entries=[BreakerEntry(i, fleet.get(i), overrides.get(i)) for i in page],
            connected=self.distributor.connected(),
            next_page_token=encode_page_token(page[-1], "ListBreakers") if more else "",
            ignored_unknown_router=self.fleet.ignored_unknown_router,
            ignored_stale_nonce=self.fleet.ignored_stale_nonce,
        )
