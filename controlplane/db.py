"""The one SQLite connection (aiosqlite, WAL, synchronous=FULL) and its transactions.

One connection behind one lock: each transaction holds the lock from BEGIN to COMMIT,
so writes are all or nothing and readers never see half of one.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from controlplane.migrations import SchemaTooNew, migrate
from switchyard.runtime.errors import StartupError


def now_us() -> int:
    return time.time_ns() // 1000


class Database:
    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, path: str) -> Database:
        """Open (creating and migrating) the database, or raise StartupError saying why."""
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            connection = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StartupError(f"cannot open database {path}: {exc}") from exc
        try:
            connection.row_factory = aiosqlite.Row
            await connection.execute("PRAGMA journal_mode=WAL")
            await connection.execute("PRAGMA synchronous=FULL")
            await connection.execute("PRAGMA foreign_keys=ON")
            await connection.execute("PRAGMA busy_timeout=5000")
            await migrate(connection)
        except (sqlite3.Error, SchemaTooNew) as exc:
            await connection.close()
            raise StartupError(f"cannot open database {path}: {exc}") from exc
        return cls(connection)

    async def close(self) -> None:
        """Idempotent: the stop hook and an error path may both call it."""
        async with self._lock:
            if not self._closed:
                self._closed = True
                await self._connection.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._lock:
            await self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._connection)
            except BaseException:
                await self._connection.execute("ROLLBACK")
                raise
            await self._connection.execute("COMMIT")


class Transaction:
    """The statements one transaction may run."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        await self._connection.execute(sql, args)

    async def one(self, sql: str, args: tuple[Any, ...] = ()) -> aiosqlite.Row | None:
        async with self._connection.execute(sql, args) as cursor:
            return await cursor.fetchone()

    async def all(self, sql: str, args: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
        async with self._connection.execute(sql, args) as cursor:
            return list(await cursor.fetchall())
