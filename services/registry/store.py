"""ModelStore: the registry's durable state in SQLite, mirrored in memory.

The store is the only writer. Each change runs in one SQLite transaction that writes
the model row and its `revisions` entry together (WAL, synchronous=FULL: a change is
on disk before the caller is answered). Only after COMMIT does the in-memory mirror
move forward and the change reach watchers, so readers never see a write that could
still be rolled back. Reads are served from the mirror; history reads use a second
connection that only ever sees committed data.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import sqlite3
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import structlog

from services.registry.history import (
    REVISION_COLUMNS,
    revision_from_row,
    revision_insert,
    revision_proto,
)
from services.registry.migrations import MIGRATIONS
from services.registry.notifier import ChangeNotifier, Subscription
from switchyard.registry.v1 import registry_pb2
from switchyard.runtime.errors import Aborted, AlreadyExists, NotFound, StartupError
from switchyard.runtime.sqlite import SchemaTooNew, connect, migrate

log = structlog.get_logger(__name__)

T = TypeVar("T")
Model = registry_pb2.Model
ModelRevision = registry_pb2.ModelRevision


def _runs_to_completion(
    method: Callable[..., Coroutine[Any, Any, T]],
) -> Callable[..., Coroutine[Any, Any, T]]:
    """A write, once started, finishes even if its caller is cancelled (client gone,
    deadline hit). Otherwise a COMMIT could land in SQLite while the cancelled coroutine
    skips the mirror update, and the next write would reuse a revision number."""

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        task = asyncio.ensure_future(method(*args, **kwargs))
        # Nobody may be left to read a failure; retrieve it so it is not reported as lost.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(task)

    return wrapper


def _now_ns() -> int:
    return time.time_ns()


def _etag(name: str, spec_revision: int) -> str:
    # Opaque to clients; changes exactly when the operator-editable spec changes.
    return hashlib.blake2b(f"{name}@{spec_revision}".encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class WatchStart:
    """What a new watcher starts from: the fleet at `revision` and its change feed."""

    subscription: Subscription
    snapshot: registry_pb2.FleetSnapshot
    revision: int


class ModelStore:
    def __init__(
        self,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        models: dict[str, Model],
        revision: int,
        watch_queue_limit: int,
    ) -> None:
        self._writer = writer
        self._reader = reader
        self._models = models
        self._revision = revision
        self._write_lock = asyncio.Lock()
        self._notifier = ChangeNotifier(watch_queue_limit)
        self._closed = False

    @classmethod
    async def open(cls, db_path: str | Path, *, watch_queue_limit: int = 10_000) -> ModelStore:
        """Open (creating and migrating) the database; StartupError when it cannot.

        Both connections come from `switchyard.runtime.sqlite` (WAL; synchronous=FULL,
        so an acknowledged write survives kill -9 and power loss), as every store's do.
        """
        path = str(db_path)
        writer = await connect(path, busy_timeout_ms=5000)
        reader: aiosqlite.Connection | None = None
        try:
            await migrate(writer, MIGRATIONS)
            reader = await connect(path, busy_timeout_ms=5000, query_only=True)
            for connection in (writer, reader):
                connection.row_factory = None  # rows are plain tuples here
            models, revision = await cls._load(writer)
        except (OSError, sqlite3.Error, SchemaTooNew) as exc:
            await writer.close()
            if reader is not None:
                await reader.close()
            raise StartupError(f"cannot open database {path}: {exc}") from exc
        except BaseException:
            await writer.close()
            if reader is not None:
                await reader.close()
            raise
        log.info("store.opened", db_path=path, models=len(models), revision=revision)
        return cls(writer, reader, models, revision, watch_queue_limit)

    @staticmethod
    async def _load(db: aiosqlite.Connection) -> tuple[dict[str, Model], int]:
        models: dict[str, Model] = {}
        async with db.execute("SELECT name, model FROM models") as cursor:
            async for name, blob in cursor:
                models[name] = Model.FromString(blob)
        async with db.execute("SELECT COALESCE(MAX(revision), 0) FROM revisions") as cursor:
            row = await cursor.fetchone()
        return models, int(row[0]) if row else 0

    async def end_watches(self) -> None:
        """End every watch stream after what it was already sent (shutdown)."""
        self._notifier.close_all()

    async def close(self) -> None:
        """End every watch stream and close the database (safe to call twice)."""
        self._notifier.close_all()
        if self._closed:
            return
        self._closed = True
        await self._reader.close()
        await self._writer.close()

    # Reads: from the in-memory mirror of committed state. Callers must not mutate.

    @property
    def revision(self) -> int:
        return self._revision

    def get(self, name: str) -> Model:
        model = self._models.get(name)
        if model is None:
            raise NotFound(f"model {name} not found")
        return model

    def find(self, name: str) -> Model | None:
        return self._models.get(name)

    def health_states(self) -> list[int]:
        """Each model's health state; one C-level copy, so safe from a scrape thread."""
        return [m.health.state for m in list(self._models.values())]

    def models(self) -> list[Model]:
        """Every model, ordered by name."""
        return [self._models[name] for name in sorted(self._models)]

    # Writes: each is one transaction plus one revision, or nothing at all.

    @_runs_to_completion
    async def create(self, model: Model, *, actor: str) -> Model:
        """Store a validated new profile (model.name set) as a new revision."""
        async with self._write_lock:
            if model.name in self._models:
                raise AlreadyExists(f"model {model.name} already exists")
            revision = self._revision + 1
            now = _now_ns()
            stored = Model()
            stored.CopyFrom(model)
            stored.revision = revision
            stored.etag = _etag(stored.name, revision)
            stored.create_time.FromNanoseconds(now)
            stored.update_time.FromNanoseconds(now)
            if not stored.HasField("health"):
                stored.health.state = registry_pb2.HEALTH_STATE_UNKNOWN
                stored.health.source = "registry"
                stored.health.update_time.FromNanoseconds(now)
            changed = _populated_fields(stored)
            await self._commit(
                stored,
                registry_pb2.CHANGE_KIND_CREATED,
                actor,
                changed,
                now,
                spec_revision=revision,
            )
            return stored

    @_runs_to_completion
    async def update(
        self,
        name: str,
        build: Callable[[Model], tuple[Model, list[str]]],
        *,
        expected_etag: str,
        actor: str,
    ) -> Model:
        """Store `build(current)` if the etag still matches; `build` returns the new
        profile and the fields it changed, or raises InvalidArgument.

        Building under the write lock means an update without an etag still merges
        onto the latest version, never onto a copy another writer has replaced.
        """
        async with self._write_lock:
            current = self.get(name)
            _check_etag(current, expected_etag)
            updated, changed_fields = build(current)
            if not changed_fields:
                return current  # nothing to change: no revision, etag unchanged
            revision = self._revision + 1
            now = _now_ns()
            stored = Model()
            stored.CopyFrom(updated)
            # Output-only fields come from the store, never from the request.
            stored.health.CopyFrom(current.health)
            stored.create_time.CopyFrom(current.create_time)
            stored.revision = revision
            stored.etag = _etag(stored.name, revision)
            stored.update_time.FromNanoseconds(now)
            await self._commit(
                stored,
                registry_pb2.CHANGE_KIND_UPDATED,
                actor,
                changed_fields,
                now,
                spec_revision=revision,
            )
            return stored

    def check_etag(self, name: str, expected_etag: str) -> Model:
        current = self.get(name)
        _check_etag(current, expected_etag)
        return current

    @_runs_to_completion
    async def delete(self, name: str, *, expected_etag: str, actor: str) -> None:
        async with self._write_lock:
            current = self.get(name)
            _check_etag(current, expected_etag)
            revision = self._revision + 1
            now = _now_ns()
            change = revision_proto(revision, name, registry_pb2.CHANGE_KIND_DELETED, actor, now)
            await self._transaction(
                [
                    ("DELETE FROM models WHERE name = ?", (name,)),
                    revision_insert(change, Model()),
                ]
            )
            del self._models[name]
            self._advance(change)

    @_runs_to_completion
    async def report_health(self, name: str, health: registry_pb2.Health, *, actor: str) -> Model:
        """Record a health transition; repeating the current state changes nothing."""
        async with self._write_lock:
            current = self.get(name)
            same = (
                current.health.state == health.state
                and current.health.reason == health.reason
                and current.health.source == health.source
            )
            if same:
                return current
            revision = self._revision + 1
            now = _now_ns()
            stored = Model()
            stored.CopyFrom(current)
            stored.health.CopyFrom(health)
            if not health.HasField("update_time"):
                stored.health.update_time.FromNanoseconds(now)
            stored.revision = revision
            spec_revision = await self._spec_revision(name)
            await self._commit(
                stored,
                registry_pb2.CHANGE_KIND_HEALTH,
                actor,
                ["health"],
                now,
                spec_revision=spec_revision,
            )
            return stored

    async def _spec_revision(self, name: str) -> int:
        async with self._writer.execute(
            "SELECT spec_revision FROM models WHERE name = ?", (name,)
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _commit(
        self,
        stored: Model,
        kind: int,
        actor: str,
        changed_fields: Iterable[str],
        now: int,
        *,
        spec_revision: int,
    ) -> None:
        change = revision_proto(stored.revision, stored.name, kind, actor, now)
        change.changed_fields.extend(changed_fields)
        change.model.CopyFrom(stored)
        row = (
            stored.name,
            stored.SerializeToString(deterministic=True),
            stored.etag,
            spec_revision,
            stored.revision,
            stored.health.state,
            stored.provider.kind,
            stored.create_time.ToNanoseconds(),
            stored.update_time.ToNanoseconds(),
        )
        await self._transaction(
            [
                ("INSERT OR REPLACE INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row),
                revision_insert(change, stored),
            ]
        )
        self._models[stored.name] = stored
        self._advance(change)

    async def _transaction(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        await self._writer.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                await self._writer.execute(sql, params)
            await self._writer.execute("COMMIT")
        except BaseException:
            # The write never happened: memory and watchers were not touched.
            if self._writer.in_transaction:
                await self._writer.execute("ROLLBACK")
            raise

    def _advance(self, change: ModelRevision) -> None:
        self._revision = change.revision
        self._notifier.publish(change)

    # History and watch.

    async def revisions(
        self, *, name: str = "", before: int = 0, limit: int = 100
    ) -> list[ModelRevision]:
        """Newest first: revisions older than `before` (0: from the newest)."""
        sql = (
            f"SELECT {REVISION_COLUMNS} FROM revisions "
            "WHERE (? = '' OR name = ?) AND (? = 0 OR revision < ?) "
            "ORDER BY revision DESC LIMIT ?"
        )
        async with self._reader.execute(sql, (name, name, before, before, limit)) as cursor:
            return [revision_from_row(row) async for row in cursor]

    async def revisions_between(
        self, after: int, upto: int, limit: int = 500
    ) -> list[ModelRevision]:
        """Oldest first: revisions in (after, upto], at most `limit`."""
        sql = (
            f"SELECT {REVISION_COLUMNS} FROM revisions "
            "WHERE revision > ? AND revision <= ? ORDER BY revision LIMIT ?"
        )
        async with self._reader.execute(sql, (after, upto, limit)) as cursor:
            return [revision_from_row(row) async for row in cursor]

    def watch(self) -> WatchStart:
        """Subscribe and capture the fleet at one revision, with no await in between."""
        subscription = self._notifier.subscribe()
        snapshot = registry_pb2.FleetSnapshot(models=self.models(), revision=self._revision)
        return WatchStart(subscription, snapshot, self._revision)

    def unwatch(self, subscription: Subscription) -> None:
        self._notifier.unsubscribe(subscription)

    @property
    def watcher_count(self) -> int:
        return self._notifier.watcher_count


def _check_etag(current: Model, expected_etag: str) -> None:
    if expected_etag and expected_etag != current.etag:
        raise Aborted(
            f"model {current.name} changed since it was read (etag {expected_etag} is stale, "
            f"current is {current.etag}); re-read it and retry"
        )


def _populated_fields(model: Model) -> list[str]:
    spec = {"name", "etag", "revision", "create_time", "update_time", "health"}
    return sorted(f.name for f, _ in model.ListFields() if f.name not in spec)
