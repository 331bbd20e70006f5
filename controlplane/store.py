"""Policy versions, the rollout and breaker overrides: what routers are told to run.

Each public method is one transaction. Methods that change what routers run bump the
generation and return the new `ConfigState`, read inside the same transaction, so the
caller pushes exactly what was committed.
"""

from __future__ import annotations

import aiosqlite

from controlplane import rollout_store
from controlplane.guard import CanaryGuard
from controlplane.migrations import open_database
from controlplane.model import (
    BreakerOverrideRecord,
    BreakerState,
    ConfigState,
    PolicyRecord,
    Published,
    ShadowSplit,
    now_us,
)
from switchyard.policy.rollout import RolloutSplit
from switchyard.runtime.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from switchyard.runtime.sqlite import SqliteDatabase, Transaction

_POLICY_COLUMNS = "version, content_hash, author, message, create_time_us, source"


def _policy(row: aiosqlite.Row) -> PolicyRecord:
    return PolicyRecord(
        version=row["version"],
        content_hash=row["content_hash"],
        author=row["author"],
        message=row["message"],
        create_time_us=row["create_time_us"],
        source=row["source"],
    )


class PolicyStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: str) -> PolicyStore:
        return cls(await open_database(path))

    async def close(self) -> None:
        await self._db.close()

    # --- reads -----------------------------------------------------------------------

    async def _get(self, db: Transaction, version: int) -> PolicyRecord | None:
        row = await db.one(
            f"SELECT {_POLICY_COLUMNS} FROM policy_versions WHERE version = ?", (version,)
        )
        return _policy(row) if row else None

    async def _rollout(self, db: Transaction) -> tuple[int, RolloutSplit]:
        row = await db.one(
            "SELECT generation, active_version, canary_version, canary_percent FROM rollout"
        )
        assert row is not None, "migration 1 inserts the rollout row"
        split = RolloutSplit(
            active_version=row["active_version"] or 0,
            canary_version=row["canary_version"] or 0,
            canary_percent=float(row["canary_percent"]),
        )
        return row["generation"], split

    async def _state(self, db: Transaction) -> ConfigState:
        generation, split = await self._rollout(db)
        extras = await rollout_store.read_extras(db)
        policies = []
        carried = sorted({split.active_version, split.canary_version, extras.shadow.version} - {0})
        for version in carried:
            record = await self._get(db, version)
            if record is not None:
                policies.append(record)
        overrides = [
            BreakerOverrideRecord(
                model_id=r["model_id"],
                state=r["state"],
                author=r["author"],
                reason=r["reason"],
                update_time_us=r["update_time_us"],
            )
            for r in await db.all(
                "SELECT model_id, state, author, reason, update_time_us FROM breaker_overrides"
                " ORDER BY model_id",
            )
        ]
        state = ConfigState(
            generation,
            split,
            tuple(policies),
            tuple(overrides),
            shadow=extras.shadow,
            guard=extras.guard if split.canary_version else None,
            artefacts=await rollout_store.artefacts_for(db, carried),
        )
        state.check()
        return state

    async def config_state(self) -> ConfigState:
        async with self._db.begin() as db:
            return await self._state(db)

    async def get(self, version: int) -> PolicyRecord | None:
        """A version by number; 0 means the active one (None when nothing is active)."""
        async with self._db.begin() as db:
            if version == 0:
                _, split = await self._rollout(db)
                version = split.active_version
            return await self._get(db, version) if version else None

    async def active_version(self) -> int:
        async with self._db.begin() as db:
            return (await self._rollout(db))[1].active_version

    async def has_policies(self) -> bool:
        async with self._db.begin() as db:
            return await db.one("SELECT 1 FROM policy_versions LIMIT 1") is not None

    async def list(self, *, page_size: int, before: int | None) -> tuple[list[PolicyRecord], int]:
        """Newest first, at most page_size versions below `before`; also the active version."""
        async with self._db.begin() as db:
            rows = await db.all(
                f"SELECT {_POLICY_COLUMNS} FROM policy_versions WHERE version < ?"
                " ORDER BY version DESC LIMIT ?",
                (before if before is not None else 2**62, page_size),
            )
            _, split = await self._rollout(db)
            return [_policy(r) for r in rows], split.active_version

    # --- writes ----------------------------------------------------------------------

    async def _bump(
        self,
        db: Transaction,
        *,
        action: str,
        detail: str,
        author: str,
        at: int,
        split: RolloutSplit,
    ) -> None:
        """Write the rollout row with a new generation and log it in rollout_history."""
        generation, _ = await self._rollout(db)
        await db.execute(
            "UPDATE rollout SET generation = ?, active_version = ?, canary_version = ?,"
            " canary_percent = ?, update_time_us = ?",
            (
                generation + 1,
                split.active_version or None,
                split.canary_version or None,
                split.canary_percent,
                at,
            ),
        )
        await db.execute(
            "INSERT INTO rollout_history (generation, action, active_version, canary_version,"
            " canary_percent, detail, author, time_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                generation + 1,
                action,
                split.active_version or None,
                split.canary_version or None,
                split.canary_percent,
                detail,
                author,
                at,
            ),
        )

    # The reads and the generation bump, for RolloutControl to compose into its own
    # transactions (a guard rollback, a shadow change) without a second copy of the SQL.
    rollout_in = _rollout
    version_in = _get
    state_in = _state
    bump_in = _bump

    async def _activate(
        self, db: Transaction, version: int, *, action: str, author: str, at: int
    ) -> bool:
        """Make `version` active; a canary of that same version is thereby promoted."""
        _, split = await self._rollout(db)
        if split.active_version == version:
            return False
        promoted = split.canary_version == version
        if promoted:
            await rollout_store.write_guard(db, None, canary_start_us=0)
            await rollout_store.write_promotion(db, None)
        if (await rollout_store.read_extras(db)).shadow.version == version:
            await rollout_store.write_shadow(db, ShadowSplit())  # it answers for real now
        await self._bump(
            db,
            action=action,
            detail=f"{split.active_version} -> {version}",
            author=author,
            at=at,
            split=RolloutSplit(
                active_version=version,
                canary_version=0 if promoted else split.canary_version,
                canary_percent=0.0 if promoted else split.canary_percent,
            ),
        )
        return True

    async def publish(
        self,
        *,
        source: str,
        content_hash: str,
        author: str,
        message: str,
        activate: bool,
        artefacts: tuple[str, ...] = (),
    ) -> Published:
        """Store a new version (or return the latest if its content is identical).

        The first version ever stored becomes active whatever `activate` says.
        `artefacts`: the content addresses the policy names; each must be uploaded.
        """
        at = now_us()
        async with self._db.begin() as db:
            missing = await rollout_store.missing_artefacts(db, list(artefacts))
            if missing:
                raise InvalidArgument(
                    [
                        FieldViolation(
                            "predictor.artefact",
                            f"no artefact {d} has been uploaded (switchyard policy artefact"
                            " upload FILE)",
                        )
                        for d in missing
                    ]
                )
            row = await db.one(
                f"SELECT {_POLICY_COLUMNS} FROM policy_versions ORDER BY version DESC LIMIT 1"
            )
            latest = _policy(row) if row else None
            if latest is not None and latest.content_hash == content_hash:
                record, created = latest, False
            else:
                version = (latest.version if latest else 0) + 1
                await db.execute(
                    f"INSERT INTO policy_versions ({_POLICY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    (version, content_hash, author, message, at, source),
                )
                record, created = (
                    PolicyRecord(version, content_hash, author, message, at, source),
                    True,
                )
                await rollout_store.link_policy_artefacts(db, version, list(artefacts))
            _, split = await self._rollout(db)
            changed = False
            if activate or split.active_version == 0:
                changed = await self._activate(
                    db, record.version, action="publish", author=author, at=at
                )
            active = changed or split.active_version == record.version
            return Published(
                record,
                active=active,
                created=created,
                config=await self._state(db) if changed else None,
            )

    async def activate(
        self, version: int, *, author: str, action: str
    ) -> tuple[PolicyRecord, ConfigState | None]:
        """Make an existing version active (rollback or promotion); NotFound if absent."""
        async with self._db.begin() as db:
            record = await self._get(db, version)
            if record is None:
                raise NotFound(f"policy version {version} does not exist")
            changed = await self._activate(db, version, action=action, author=author, at=now_us())
            return record, await self._state(db) if changed else None

    async def set_canary(
        self,
        canary_version: int,
        percent: float,
        *,
        author: str,
        guard: CanaryGuard | None = None,
        action: str = "",
        detail: str = "",
    ) -> tuple[RolloutSplit, ConfigState | None]:
        """Set or (version 0) clear the canary; checked against the rollout it changes."""
        async with self._db.begin() as db:
            _, split = await self._rollout(db)
            if canary_version:
                if await self._get(db, canary_version) is None:
                    raise NotFound(f"policy version {canary_version} does not exist")
                if not split.active_version:
                    raise FailedPrecondition("no policy is active yet; publish one first")
                if canary_version == split.active_version:
                    raise InvalidArgument(
                        [FieldViolation("canary_version", "is the active version already")]
                    )
            wanted = RolloutSplit(
                split.active_version, canary_version, percent if canary_version else 0.0
            )
            extras = await rollout_store.read_extras(db)
            kept_guard = guard if canary_version else None
            if wanted == split and kept_guard == extras.guard:
                return split, None
            at = now_us()
            if canary_version != split.canary_version or not canary_version:
                await rollout_store.write_promotion(db, None)
            started = (
                extras.canary_start_us
                if canary_version and canary_version == split.canary_version
                else (at if canary_version else 0)
            )
            await rollout_store.write_guard(db, kept_guard, canary_start_us=started)
            await self._bump(
                db,
                action=action or ("canary" if canary_version else "canary_cleared"),
                detail=detail or f"canary {canary_version} at {wanted.canary_percent}%",
                author=author,
                at=at,
                split=wanted,
            )
            return wanted, await self._state(db)

    async def set_breaker_override(
        self, model_id: str, state: BreakerState | None, *, author: str, reason: str
    ) -> ConfigState | None:
        """Force one model's breaker fleet-wide, or (None) remove the override."""
        at = now_us()
        async with self._db.begin() as db:
            row = await db.one(
                "SELECT state FROM breaker_overrides WHERE model_id = ?", (model_id,)
            )
            if (row["state"] if row else None) == state:
                return None
            if state is None:
                await db.execute("DELETE FROM breaker_overrides WHERE model_id = ?", (model_id,))
            else:
                await db.execute(
                    "INSERT INTO breaker_overrides (model_id, state, author, reason,"
                    " update_time_us) VALUES (?, ?, ?, ?, ?) ON CONFLICT (model_id) DO UPDATE SET"
                    " state = excluded.state, author = excluded.author, reason = excluded.reason,"
                    " update_time_us = excluded.update_time_us",
                    (model_id, state, author, reason, at),
                )
            _, split = await self._rollout(db)
            await self._bump(
                db,
                action="breaker_override",
                detail=f"{model_id}: {state or 'none'} ({reason})",
                author=author,
                at=at,
                split=split,
            )
            return await self._state(db)
