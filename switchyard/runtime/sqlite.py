"""SQLite shared by several processes on one host: WAL, a busy timeout, ordered
migrations, and `BEGIN IMMEDIATE` transactions that a cancelled caller cannot cut short.

One aiosqlite connection per process behind one asyncio lock: a transaction holds the
lock from BEGIN to COMMIT, so this process's transactions never interleave; SQLite's
write lock (taken at BEGIN IMMEDIATE, waited for up to the busy timeout) orders them
against the other processes'. Each transaction runs as its own task, shielded from the
caller: a client that cancels mid-transaction leaves it to COMMIT or ROLLBACK whole,
never half-applied with the lock held.

Every SQLite file of the suite is opened here: the registry's (which keeps its own
writer/reader pair, opened with `connect` and migrated with `migrate`), the control
plane's and the router host's (`SqliteDatabase`).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from switchyard.runtime.errors import StartupError

T = TypeVar("T")


class SchemaTooNew(Exception):
    """The database was written by a newer build; refuse rather than guess."""


async def _enable_wal(connection: aiosqlite.Connection, *, timeout_s: float) -> str:
    """Switch the file to WAL (persistent, so usually already done) and return the mode.

    The switch needs the file to itself and SQLite answers "locked" at once, without
    its busy handler, while another process opens the same new file: retry a while.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        try:
            async with connection.execute("PRAGMA journal_mode") as cursor:
                row = await cursor.fetchone()
            if row is not None and str(row[0]).lower() == "wal":
                return "wal"
            async with connection.execute("PRAGMA journal_mode = WAL") as cursor:
                row = await cursor.fetchone()
            return str(row[0]).lower() if row is not None else ""
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.2)


async def connect(
    path: str,
    *,
    synchronous: str = "FULL",
    busy_timeout_ms: int = 10_000,
    query_only: bool = False,
) -> aiosqlite.Connection:
    """One connection in autocommit mode (transactions are explicit), WAL, busy timeout.

    StartupError, saying why, when the file cannot be opened or does not support WAL.
    """
    try:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StartupError(f"cannot open database {path}: {exc}") from exc
    try:
        connection.row_factory = sqlite3.Row
        await connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        mode = await _enable_wal(connection, timeout_s=busy_timeout_ms / 1000)
        if path != ":memory:" and mode != "wal":
            raise StartupError(f"database {path} does not support WAL (journal_mode={mode})")
        await connection.execute(f"PRAGMA synchronous = {synchronous}")
        await connection.execute("PRAGMA foreign_keys = ON")
        if query_only:
            await connection.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        await connection.close()
        raise StartupError(f"cannot open database {path}: {exc}") from exc
    except BaseException:
        await connection.close()
        raise
    return connection


async def migrate(connection: aiosqlite.Connection, migrations: Sequence[Sequence[str]]) -> int:
    """Apply every migration step not yet recorded in schema_version; the version now.

    Append steps, never edit a shipped one. Each step re-reads the version inside its
    own write transaction, so processes opening the same file at once run it once.
    SchemaTooNew when the file was written by a newer build.
    """
    await connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    latest = len(migrations)
    for number, statements in enumerate(migrations, start=1):
        await connection.execute("BEGIN IMMEDIATE")
        try:
            current = await _schema_version(connection)
            if current > latest:
                raise SchemaTooNew(f"schema {current} is newer than this build ({latest})")
            if current < number:
                for statement in statements:
                    await connection.execute(statement)
                await connection.execute(
                    "INSERT INTO schema_version (version) VALUES (?)", (number,)
                )
        except BaseException:
            await connection.execute("ROLLBACK")
            raise
        await connection.execute("COMMIT")
    current = await _schema_version(connection)
    if current > latest:
        raise SchemaTooNew(f"schema {current} is newer than this build ({latest})")
    return current


async def _schema_version(connection: aiosqlite.Connection) -> int:
    async with connection.execute("SELECT MAX(version) FROM schema_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


class Transaction:
    """The statements one transaction may run."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        async with self._connection.execute(sql, args) as cursor:
            return cursor.rowcount

    async def one(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self._connection.execute(sql, args) as cursor:
            return await cursor.fetchone()

    async def all(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._connection.execute(sql, args) as cursor:
            return list(await cursor.fetchall())


class SqliteDatabase:
    def __init__(self, connection: aiosqlite.Connection, path: str) -> None:
        self._connection = connection
        self._lock = asyncio.Lock()
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.path = path

    @classmethod
    async def open(
        cls,
        path: str,
        *,
        migrations: Sequence[Sequence[str]],
        synchronous: str = "FULL",
        busy_timeout_ms: int = 10_000,
    ) -> SqliteDatabase:
        """Open (creating and migrating) the database, or raise StartupError saying why."""
        connection = await connect(path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms)
        try:
            await migrate(connection, migrations)
        except (sqlite3.Error, SchemaTooNew) as exc:
            await connection.close()
            raise StartupError(f"cannot open database {path}: {exc}") from exc
        except BaseException:
            await connection.close()
            raise
        return cls(connection, path)

    async def transaction(self, body: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run `body` in one BEGIN IMMEDIATE ... COMMIT (ROLLBACK if it raises).

        The transaction is a task of its own: cancelling the caller does not stop it.
        Use `detached` to learn its result after the caller has gone.
        """
        return await asyncio.shield(self.detached(body))

    def detached(self, body: Callable[[Transaction], Awaitable[T]]) -> asyncio.Task[T]:
        """The transaction as a task, kept alive by this database until it ends."""
        task = asyncio.ensure_future(self._run(body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, body: Callable[[Transaction], Awaitable[T]]) -> T:
        async with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError(f"database {self.path} is closed")
            await self._connection.execute("BEGIN IMMEDIATE")
            try:
                result = await body(Transaction(self._connection))
            except BaseException:
                await self._connection.execute("ROLLBACK")
                raise
            await self._connection.execute("COMMIT")
            return result

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Transaction]:
        """`async with db.begin() as tx:` one BEGIN IMMEDIATE ... COMMIT in the caller's task.

        Unlike `transaction`, a cancelled caller rolls it back: callers that must not
        be cut short shield themselves (the control plane shields each write).
        """
        async with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError(f"database {self.path} is closed")
            await self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._connection)
            except BaseException:
                await self._connection.execute("ROLLBACK")
                raise
            await self._connection.execute("COMMIT")

    async def read_one(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        """One row from a read outside any write transaction (a WAL snapshot)."""
        async with self._lock:
            async with self._connection.execute(sql, args) as cursor:
                return await cursor.fetchone()

    async def close(self) -> None:
        """Idempotent; waits for transactions already started (a settle in flight)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        async with self._lock:
            if not self._closed:
                self._closed = True
                await self._connection.close()
