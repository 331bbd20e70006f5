"""The registry's schema as ordered migration steps.

Append new steps; never edit a released one. Applying them (one transaction each,
`schema_version` recording each step) is `switchyard.runtime.sqlite.migrate`, shared
with the control plane and the routers, so a database written by an older registry is
brought forward on open and one written by a newer registry is refused.
"""

from __future__ import annotations

_SCRIPTS: tuple[str, ...] = (
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


def _statements(script: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in script.split(";") if s.strip())


MIGRATIONS: tuple[tuple[str, ...], ...] = tuple(_statements(script) for script in _SCRIPTS)
