"""The SQLite schema as an ordered list of migrations, applied once each at start.

Append a new entry to change the schema; never edit one that has shipped. Each
migration runs in its own transaction together with the schema_version bump.
"""

from __future__ import annotations

import aiosqlite

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: policy versions, the rollout (one row), breaker overrides, routers and replies.
    (
        """
        CREATE TABLE policy_versions (
            version INTEGER PRIMARY KEY,
            content_hash TEXT NOT NULL,
            author TEXT NOT NULL,
            message TEXT NOT NULL,
            create_time_us INTEGER NOT NULL,
            source TEXT NOT NULL
        )
        """,
        # generation is the router snapshot version; bumped with every change routers see.
        """
        CREATE TABLE rollout (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            generation INTEGER NOT NULL,
            active_version INTEGER REFERENCES policy_versions(version),
            canary_version INTEGER REFERENCES policy_versions(version),
            canary_percent REAL NOT NULL DEFAULT 0
                CHECK (canary_percent >= 0 AND canary_percent <= 100),
            update_time_us INTEGER NOT NULL DEFAULT 0
        )
        """,
        "INSERT INTO rollout (id, generation) VALUES (1, 0)",
        # An audit trail: who changed what routers run, and when.
        """
        CREATE TABLE rollout_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            generation INTEGER NOT NULL,
            action TEXT NOT NULL,
            active_version INTEGER,
            canary_version INTEGER,
            canary_percent REAL NOT NULL,
            detail TEXT NOT NULL,
            author TEXT NOT NULL,
            time_us INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE breaker_overrides (
            model_id TEXT PRIMARY KEY,
            state TEXT NOT NULL CHECK (state IN ('forced_open', 'forced_closed')),
            author TEXT NOT NULL,
            reason TEXT NOT NULL,
            update_time_us INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE routers (
            router_id TEXT PRIMARY KEY,
            first_seen_us INTEGER NOT NULL,
            last_seen_us INTEGER NOT NULL,
            acked_snapshot_version TEXT NOT NULL DEFAULT '',
            acked_active_version INTEGER NOT NULL DEFAULT 0,
            acked_canary_version INTEGER NOT NULL DEFAULT 0,
            ack_time_us INTEGER NOT NULL DEFAULT 0,
            nacked_snapshot_version TEXT NOT NULL DEFAULT '',
            nack_error TEXT NOT NULL DEFAULT '',
            nack_time_us INTEGER NOT NULL DEFAULT 0
        )
        """,
        """
        CREATE TABLE router_replies (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            router_id TEXT NOT NULL,
            snapshot_version TEXT NOT NULL,
            nonce TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('ACK', 'NACK')),
            error TEXT NOT NULL,
            time_us INTEGER NOT NULL
        )
        """,
        "CREATE INDEX router_replies_by_router ON router_replies (router_id, id)",
    ),
    # 2: operators may drain a model (SQLite cannot alter a CHECK: copy the table).
    (
        """
        CREATE TABLE breaker_overrides_v2 (
            model_id TEXT PRIMARY KEY,
            state TEXT NOT NULL CHECK (state IN ('forced_open', 'forced_closed', 'draining')),
            author TEXT NOT NULL,
            reason TEXT NOT NULL,
            update_time_us INTEGER NOT NULL
        )
        """,
        "INSERT INTO breaker_overrides_v2 SELECT * FROM breaker_overrides",
        "DROP TABLE breaker_overrides",
        "ALTER TABLE breaker_overrides_v2 RENAME TO breaker_overrides",
    ),
)

LATEST = len(MIGRATIONS)


class SchemaTooNew(Exception):
    """The database was written by a newer control plane; refuse rather than guess."""


async def migrate(db: aiosqlite.Connection) -> int:
    """Bring the schema to LATEST; return the version it was at."""
    await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    async with db.execute("SELECT MAX(version) FROM schema_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row and row[0] is not None else 0
    if current > LATEST:
        raise SchemaTooNew(f"database schema {current} is newer than this build ({LATEST})")
    for number in range(current + 1, LATEST + 1):
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number - 1]:
                await db.execute(statement)
            await db.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        await db.execute("COMMIT")
    return current
