"""The decision log's SQLite files: the active one the writer appends to, and the rotated
ones beside it (`decisions.db`, then `decisions.1.db` newest .. `decisions.N.db` oldest).

Only the writer thread touches a `DecisionFiles`; readers open the files read-only
(`query.py`), which WAL lets them do while the writer appends.

The bound: `max_bytes` over every file, db + WAL + shared-memory index. Each file gets
an equal share; SQLite itself refuses to grow the active database past its share of
pages (`max_page_count`), the WAL is checkpointed when it passes an eighth of the
share and truncated back to a quarter (`wal_autocheckpoint`, `journal_size_limit`),
and one transaction writes at most an eighth of it, so the active file never passes
its share (a reader holding an old snapshot delays the checkpoint: readers are brief).
When the database is full the oldest file goes, the others move down one, and a fresh
active file starts.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# The decisions table's columns in insert order (record.py builds rows in this order).
COLUMNS = (
    "request_id",
    "time_unix",
    "tenant",
    "tier",
    "task_type",
    "rule",
    "selector",
    "strategy",
    "policy_version",
    "canary",
    "shadow",
    "shadow_of",
    "outcome",
    "code",
    "error",
    "model_id",
    "models",
    "attempts",
    "escalations",
    "expected_cost_micros",
    "expected_latency_ms",
    "cost_micros",
    "latency_ms",
    "slo_ms",
    "slo_met",
    "cache_hit",
    "input_tokens",
    "output_tokens",
    "detail",
)

SCHEMA_VERSION = 1
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS decisions (
  id INTEGER PRIMARY KEY,
  request_id TEXT NOT NULL,
  time_unix REAL NOT NULL,
  tenant TEXT NOT NULL,
  tier TEXT NOT NULL,
  task_type TEXT NOT NULL,
  rule TEXT NOT NULL,
  selector TEXT NOT NULL,
  strategy TEXT NOT NULL,
  policy_version INTEGER NOT NULL,
  canary INTEGER NOT NULL,
  shadow INTEGER NOT NULL,
  shadow_of TEXT NOT NULL,
  outcome TEXT NOT NULL,
  code TEXT NOT NULL,
  error TEXT NOT NULL,
  model_id TEXT NOT NULL,
  models TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  escalations INTEGER NOT NULL,
  expected_cost_micros INTEGER,
  expected_latency_ms INTEGER,
  cost_micros INTEGER NOT NULL,
  latency_ms REAL NOT NULL,
  slo_ms INTEGER NOT NULL,
  slo_met INTEGER,
  cache_hit INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  detail BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_request ON decisions (request_id);
CREATE INDEX IF NOT EXISTS decisions_by_time ON decisions (time_unix);
-- Labels arriving later (RecordFeedback); one per request and source, the latest wins.
-- Always written to the active file, whichever file holds the decision.
CREATE TABLE IF NOT EXISTS feedback (
  request_id TEXT NOT NULL,
  source TEXT NOT NULL,
  label REAL NOT NULL,
  recorded_unix REAL NOT NULL,
  PRIMARY KEY (request_id, source)
);
PRAGMA user_version = {SCHEMA_VERSION};
"""
# Rows go in by statements of up to INSERT_ROWS rows each: one bind pass and one SQLite
# step per 64 rows, where executemany steps (and takes the GIL back) once per row. It
# mattered while the log wrote on a thread of the router; the writer process keeps it.
INSERT_ROWS = 64
_ROW = f"({', '.join('?' * len(COLUMNS))})"


@functools.lru_cache(maxsize=INSERT_ROWS)
def insert_rows(count: int) -> str:
    """INSERT of `count` rows (at most INSERT_ROWS: SQLite's limit is 32,766 values)."""
    return f"INSERT INTO decisions ({', '.join(COLUMNS)}) VALUES " + ", ".join([_ROW] * count)


# The shared-memory index beside a WAL database: 32 KiB until the WAL grows large.
SHM_ALLOWANCE = 64 * 1024
# Room for the largest decision (captured text is capped, record.py) in one batch.
MIN_FILE_BYTES = 1024 * 1024
PAGE_SIZE = 4096


class DecisionFileFull(sqlite3.DatabaseError):
    """The active file reached its share of the bound (rotate), not the disk."""


def rotated_path(path: Path, index: int) -> Path:
    return path.with_name(f"{path.stem}.{index}{path.suffix}")


def log_files(path: Path, rotations: int | None = None) -> list[Path]:
    """The active file and the rotated ones that exist, newest first."""
    files = [path] if path.exists() else []
    index = 1
    while rotations is None or index <= rotations:
        older = rotated_path(path, index)
        if not older.exists():
            break
        files.append(older)
        index += 1
    return files


def _companions(path: Path) -> list[Path]:
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm")]


def disk_bytes(path: Path) -> int:
    """What one log file takes on disk: database, WAL and shared-memory index."""
    total = 0
    for part in _companions(path):
        try:
            total += part.stat().st_size
        except FileNotFoundError:
            pass
    return total


@dataclass(frozen=True)
class FileShare:
    """How one file's share of the bound is split between database, WAL and index."""

    file_bytes: int

    @property
    def wal_bytes(self) -> int:
        return self.file_bytes // 4

    @property
    def max_pages(self) -> int:
        return (self.file_bytes - self.wal_bytes - SHM_ALLOWANCE) // PAGE_SIZE

    @property
    def batch_bytes(self) -> int:
        """At most this much row data per transaction, so one commit cannot carry the
        WAL past its share before the checkpoint after it."""
        return self.file_bytes // 8


class DecisionFiles:
    def __init__(self, path: Path, *, max_bytes: int, rotations: int) -> None:
        self.path = path
        self.rotations = rotations
        self.share = FileShare(max_bytes // (rotations + 1))
        if self.share.file_bytes < MIN_FILE_BYTES:
            raise ValueError(
                f"max_bytes {max_bytes} over {rotations + 1} files is under "
                f"{MIN_FILE_BYTES} bytes a file"
            )
        self._db: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            db.execute("PRAGMA journal_mode = WAL")
            # A crash loses at most the last commits, never corrupts: fine for a log.
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute(f"PRAGMA max_page_count = {self.share.max_pages}")
            db.execute(f"PRAGMA journal_size_limit = {self.share.wal_bytes}")
            db.execute(f"PRAGMA wal_autocheckpoint = {self.share.wal_bytes // PAGE_SIZE // 2}")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"{self.path} has schema {version}, newer than this router's"
                )
            db.executescript(SCHEMA)
        except BaseException:
            db.close()
            raise
        self._db = db
        return db

    def write(self, rows: Sequence[tuple[object, ...]]) -> bool:
        """Append one batch in one transaction, rotating when the file is full; whether
        it rotated."""
        rotated = False
        try:
            self._insert(rows)
        except DecisionFileFull:
            self.rotate()
            rotated = True
            self._insert(rows)
        return rotated

    def _insert(self, rows: Sequence[tuple[object, ...]]) -> None:
        db = self._open()
        try:
            with _transaction(db):
                for start in range(0, len(rows), INSERT_ROWS):
                    chunk = rows[start : start + INSERT_ROWS]
                    db.execute(insert_rows(len(chunk)), [v for row in chunk for v in row])
        except sqlite3.OperationalError as exc:
            raise self._full_or(exc) from exc

    def _full_or(self, exc: sqlite3.OperationalError) -> Exception:
        """SQLITE_FULL is the file's page cap when the file is near it, else the disk."""
        if exc.sqlite_errorcode != sqlite3.SQLITE_FULL or self._db is None:
            return exc
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        return DecisionFileFull() if pages * 2 >= self.share.max_pages else exc

    def rotate(self) -> None:
        """The active file becomes .1, .1 becomes .2, ...; the oldest is deleted."""
        self.close()
        oldest = rotated_path(self.path, self.rotations) if self.rotations else self.path
        for part in _companions(oldest):
            part.unlink(missing_ok=True)
        for index in range(self.rotations - 1, 0, -1):
            older = rotated_path(self.path, index)
            if older.exists():
                os.replace(older, rotated_path(self.path, index + 1))
        if self.rotations and self.path.exists():
            os.replace(self.path, rotated_path(self.path, 1))
        for part in _companions(self.path)[1:]:
            part.unlink(missing_ok=True)

    def holds(self, request_id: str, *, tenant: str | None) -> int:
        """Decisions with this request id (of this tenant, when given) in any file."""
        found = self._count(self._open(), request_id, tenant)
        for older in log_files(self.path, self.rotations)[1:]:
            with _read_only(older) as db:
                found += self._count(db, request_id, tenant)
        return found

    @staticmethod
    def _count(db: sqlite3.Connection, request_id: str, tenant: str | None) -> int:
        sql = "SELECT count(*) FROM decisions WHERE request_id = ? AND shadow = 0"
        args: list[object] = [request_id]
        if tenant is not None:
            sql += " AND tenant = ?"
            args.append(tenant)
        return int(db.execute(sql, args).fetchone()[0])

    def add_feedback(self, request_id: str, *, source: str, label: float) -> None:
        row = (request_id, source, label, time.time())
        sql = "INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?)"
        try:
            self._insert_feedback(sql, row)
        except DecisionFileFull:
            self.rotate()
            self._insert_feedback(sql, row)

    def _insert_feedback(self, sql: str, row: tuple[object, ...]) -> None:
        db = self._open()
        try:
            with _transaction(db):
                db.execute(sql, row)
        except sqlite3.OperationalError as exc:
            raise self._full_or(exc) from exc

    def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            try:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass  # the disk may be what failed; closing still releases the file
            db.close()


class _transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:
            self.db.execute("ROLLBACK")


class _read_only:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()
