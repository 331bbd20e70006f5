"""The SQLite schema as an ordered list of migrations, applied once each at start.

Append a new entry to change the schema; never edit one that has shipped. Opening
and migrating is `switchyard.runtime.sqlite`'s, shared with the registry and routers.
"""

from __future__ import annotations

from switchyard.runtime.sqlite import SqliteDatabase

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
    # 3: artefacts (content-addressed), which policy names which, the canary guard,
    # the shadow, promotions in progress and the routers' per-version counters.
    (
        """
        CREATE TABLE artefacts (
            digest TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('predictor', 'scorer')),
            size_bytes INTEGER NOT NULL,
            author TEXT NOT NULL,
            create_time_us INTEGER NOT NULL,
            content BLOB NOT NULL
        )
        """,
        """
        CREATE TABLE policy_artefacts (
            version INTEGER NOT NULL REFERENCES policy_versions(version),
            digest TEXT NOT NULL REFERENCES artefacts(digest),
            PRIMARY KEY (version, digest)
        )
        """,
        # The guard as JSON (controlplane.guard), set with the canary.
        "ALTER TABLE rollout ADD COLUMN canary_guard TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE rollout ADD COLUMN canary_start_us INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE rollout ADD COLUMN shadow_version INTEGER REFERENCES policy_versions(version)",
        "ALTER TABLE rollout ADD COLUMN shadow_percent REAL NOT NULL DEFAULT 0",
        "ALTER TABLE rollout ADD COLUMN shadow_execute_percent REAL NOT NULL DEFAULT 0",
        "ALTER TABLE rollout ADD COLUMN shadow_max_spend_micros_per_hour"
        " INTEGER NOT NULL DEFAULT 0",
        """
        CREATE TABLE promotions (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            canary_version INTEGER NOT NULL,
            steps TEXT NOT NULL,
            next_step INTEGER NOT NULL,
            next_step_us INTEGER NOT NULL,
            step_interval_s REAL NOT NULL,
            author TEXT NOT NULL
        )
        """,
        # Cumulative per router process (boot_id): the latest report replaces the row.
        """
        CREATE TABLE version_counts (
            router_id TEXT NOT NULL,
            boot_id TEXT NOT NULL,
            policy_version INTEGER NOT NULL,
            counts TEXT NOT NULL,
            update_time_us INTEGER NOT NULL,
            PRIMARY KEY (router_id, boot_id, policy_version)
        )
        """,
        """
        CREATE TABLE shadow_counts (
            router_id TEXT NOT NULL,
            boot_id TEXT NOT NULL,
            shadow_version INTEGER NOT NULL,
            active_version INTEGER NOT NULL,
            counts TEXT NOT NULL,
            update_time_us INTEGER NOT NULL,
            PRIMARY KEY (router_id, boot_id, shadow_version, active_version)
        )
        """,
    ),
)

LATEST = len(MIGRATIONS)


async def open_database(path: str) -> SqliteDatabase:
    """The control plane's database, created and migrated (StartupError saying why)."""
    return await SqliteDatabase.open(path, migrations=MIGRATIONS)
