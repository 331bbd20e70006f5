"""The shared SQLite helper (switchyard/runtime/sqlite.py): WAL, migrations applied once
even when processes open the file together, all-or-nothing transactions that a
cancelled caller cannot cut short, and a newer schema refused."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from switchyard.runtime.errors import StartupError
from switchyard.runtime.sqlite import SqliteDatabase, Transaction

MIGRATIONS = (
    ("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",),
    ("INSERT INTO counter (id, n) VALUES (1, 0)",),
)


async def test_wal_and_migrations_run_once_when_opened_together(tmp_path: Path) -> None:
    """Eight connections opening one new file at once apply each step exactly once."""
    path = str(tmp_path / "db.sqlite")
    dbs = await asyncio.gather(
        *(SqliteDatabase.open(path, migrations=MIGRATIONS) for _ in range(8))
    )
    try:
        row = await dbs[0].read_one("SELECT COUNT(*), MAX(n) FROM counter")
        assert tuple(row) == (1, 0)
        versions = await dbs[0].read_one("SELECT COUNT(*) FROM schema_version")
        assert versions[0] == len(MIGRATIONS)
        mode = await dbs[0].read_one("PRAGMA journal_mode")
        assert mode[0] == "wal"
    finally:
        for db in dbs:
            await db.close()


async def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    """A body that raises rolls back every statement it ran."""
    db = await SqliteDatabase.open(str(tmp_path / "db.sqlite"), migrations=MIGRATIONS)

    async def half(tx: Transaction) -> None:
        await tx.execute("UPDATE counter SET n = n + 1")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await db.transaction(half)
    assert (await db.read_one("SELECT n FROM counter"))[0] == 0
    await db.close()


async def test_a_cancelled_caller_does_not_cut_a_transaction_short(tmp_path: Path) -> None:
    """Cancelling the caller mid-transaction lets it COMMIT whole; the next one runs."""
    db = await SqliteDatabase.open(str(tmp_path / "db.sqlite"), migrations=MIGRATIONS)
    entered = asyncio.Event()
    gate = asyncio.Event()

    async def slow(tx: Transaction) -> None:
        await tx.execute("UPDATE counter SET n = n + 1")
        entered.set()
        await gate.wait()
        await tx.execute("UPDATE counter SET n = n + 10")

    caller = asyncio.create_task(db.transaction(slow))
    await entered.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    gate.set()

    async def read(tx: Transaction) -> int:
        row = await tx.one("SELECT n FROM counter")
        return int(row[0])

    assert await db.transaction(read) == 11
    await db.close()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    """A file migrated by a newer build is a StartupError, not a guess."""
    path = str(tmp_path / "db.sqlite")
    db = await SqliteDatabase.open(path, migrations=MIGRATIONS)
    await db.close()
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(StartupError, match="newer"):
        await SqliteDatabase.open(path, migrations=MIGRATIONS)


async def test_an_unusable_path_is_a_startup_error(tmp_path: Path) -> None:
    """A path under a regular file cannot be created: one clear StartupError."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StartupError, match="cannot open database"):
        await SqliteDatabase.open(str(blocker / "db.sqlite"), migrations=MIGRATIONS)
