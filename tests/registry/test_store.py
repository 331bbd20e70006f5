"""ModelStore directly: migrations, reopening, and failed writes leaving no trace."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from services.registry.migrations import MIGRATIONS
from services.registry.store import ModelStore
from services.registry.updates import new_profile
from switchyard.runtime.errors import StartupError
from tests.registry.profiles import valid_model


async def test_reopen_keeps_models_revision_and_etags(tmp_path: Path) -> None:
    """A closed and reopened store has the same models, etags and revision counter."""
    store = await ModelStore.open(tmp_path / "r.db")
    created = await store.create(new_profile("small", valid_model()), actor="t")
    await store.close()
    reopened = await ModelStore.open(tmp_path / "r.db")
    try:
        assert reopened.get("models/small") == created
        assert reopened.revision == 1
        second = await reopened.create(new_profile("large", valid_model()), actor="t")
        assert second.revision == 2
    finally:
        await reopened.close()


async def test_schema_version_is_recorded_and_newer_is_refused(tmp_path: Path) -> None:
    """Migrations record their count; a database from a newer registry fails to open."""
    store = await ModelStore.open(tmp_path / "r.db")
    await store.close()
    with sqlite3.connect(tmp_path / "r.db") as db:
        assert db.execute("SELECT version FROM schema_version").fetchone() == (len(MIGRATIONS),)
        db.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS) + 1,))
    with pytest.raises(StartupError, match="newer"):
        await ModelStore.open(tmp_path / "r.db")


async def test_failed_write_changes_neither_disk_nor_memory_nor_watchers(tmp_path: Path) -> None:
    """When the revision insert fails mid-transaction, the model row is rolled back, the
    mirror and revision counter stay put, and watchers hear nothing."""
    store = await ModelStore.open(tmp_path / "r.db")
    try:
        start = store.watch()
        # Sabotage the second statement of the transaction from outside.
        with sqlite3.connect(tmp_path / "r.db") as db:
            db.execute(
                "CREATE TRIGGER boom BEFORE INSERT ON revisions "
                "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
            )
        with pytest.raises(sqlite3.DatabaseError, match="disk on fire"):
            await store.create(new_profile("small", valid_model()), actor="t")
        assert store.find("models/small") is None
        assert store.revision == 0
        assert store.watcher_count == 1
        assert start.subscription._queue.empty()
        with sqlite3.connect(tmp_path / "r.db") as db:
            assert db.execute("SELECT COUNT(*) FROM models").fetchone() == (0,)
            db.execute("DROP TRIGGER boom")
        created = await store.create(new_profile("small", valid_model()), actor="t")
        assert created.revision == 1
    finally:
        await store.close()


async def test_cancelled_writes_leave_disk_and_memory_in_step(tmp_path: Path) -> None:
    """Writes whose callers are cancelled at every stage (client gone) still end with the
    mirror equal to the database and a dense revision sequence; later writes work."""
    store = await ModelStore.open(tmp_path / "r.db")
    try:
        for i in range(30):
            task = asyncio.ensure_future(
                store.create(new_profile(f"m{i}", valid_model()), actor="t")
            )
            for _ in range(i % 6):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # The write lock is FIFO: this write runs after every shielded one still in flight.
        later = await store.create(new_profile("after", valid_model()), actor="t")
        assert later.revision == store.revision
        with sqlite3.connect(tmp_path / "r.db") as db:
            names = {row[0] for row in db.execute("SELECT name FROM models")}
            revisions = [row[0] for row in db.execute("SELECT revision FROM revisions")]
        assert names == {m.name for m in store.models()}
        assert sorted(revisions) == list(range(1, store.revision + 1))
        assert len(names) > 1  # some cancelled writes did start, and were completed
    finally:
        await store.close()
