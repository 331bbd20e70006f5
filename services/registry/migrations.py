"""Schema migrations, applied in order at start inside one transaction each.

Append new steps; never edit a released one. `schema_version` holds the number of
steps applied, so a database written by an older registry is brought forward on open.
"""

from __future__ import annotations

import aiosqlite

MIGRATIONS: tuple[str, ...] = (
    # 1: models as serialized protos plus the columns we index on, and the change log.
    """
    CREATE TABLE models (
        name          TEXT PRIMARY KEY,
        model         BLOB NOT NULL,
        etag          TEXT NOT NULL,
        spec_revision INTEGER NOT NULL,
        revision      INTEGER NOT NULL,
        health_state  INTEGER NOT NULL,
        provider_kind INTEGER NOT NULL,
        create_time   INTEGER NOT NULL,
        update_time   INTEGER NOT NULL
    );
    CREATE INDEX models_health ON models (health_state);
    CREATE INDEX models_revision ON models (revision);
    CREATE TABLE revisions (
        revision       INTEGER PRIMARY KEY,
        name           TEXT NOT NULL,
        kind           INTEGER NOT NULL,
        actor          TEXT NOT NULL,
        change_time    INTEGER NOT NULL,
        changed_fields TEXT NOT NULL,
        snapshot       BLOB NOT NULL
    );
    CREATE INDEX revisions_name ON revisions (name, revision);
    """,
)


async def migrate(db: aiosqlite.Connection) -> int:
    """Bring the schema to the latest version; return the version now in force.

    `db` runs in autocommit mode (isolation_level=None): transactions are explicit.
    """
    await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    async with db.execute("SELECT version FROM schema_version") as cursor:
        row = await cursor.fetchone()
    if row is None:
        await db.execute("INSERT INTO schema_version (version) VALUES (0)")
        current = 0
    else:
        current = int(row[0])
    if current > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {current} is newer than this registry "
            f"({len(MIGRATIONS)}); upgrade the registry"
        )
    for version in range(current, len(MIGRATIONS)):
        # executescript would commit implicitly; run each statement in one explicit transaction.
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[version]):
                await db.execute(statement)
            await db.execute("UPDATE schema_version SET version = ?", (version + 1,))
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
