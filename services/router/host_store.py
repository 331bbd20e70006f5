"""The router's SQLite file for state shared by every router process on one host: the
tenant spend ledger (`ledger.py`) and the idempotency keys (`idempotency.py`);
`--ledger-path`, by default `state_dir/ledger.db`. Opened on first use, or at start
by `__main__`, so a bad path fails the start instead of the first request.
"""

from __future__ import annotations

import asyncio

from switchyard.runtime.sqlite import SqliteDatabase

LEDGER_FILE = "ledger.db"

# The schema as ordered steps: append a new one to change it, never edit a shipped one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: spend per tenant window, live reservations (with their lease deadline), and
    # idempotency keys (pending while the first call runs, then the stored response).
    (
        """
        CREATE TABLE budget_spend (
            tenant TEXT NOT NULL,
            window_s INTEGER NOT NULL,
            window_start_s INTEGER NOT NULL,
            spent_micros INTEGER NOT NULL,
            PRIMARY KEY (tenant, window_s, window_start_s)
        )
        """,
        """
        CREATE TABLE budget_reservations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant TEXT NOT NULL,
            window_s INTEGER NOT NULL,
            window_start_s INTEGER NOT NULL,
            amount_micros INTEGER NOT NULL CHECK (amount_micros >= 0),
            lease_deadline_ms INTEGER NOT NULL
        )
        """,
        "CREATE INDEX budget_reservations_window"
        " ON budget_reservations (tenant, window_s, window_start_s)",
        "CREATE INDEX budget_reservations_lease ON budget_reservations (lease_deadline_ms)",
        """
        CREATE TABLE idempotency_keys (
            tenant TEXT NOT NULL,
            key TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            owner TEXT NOT NULL,
            lease_deadline_ms INTEGER NOT NULL,
            expires_ms INTEGER NOT NULL,
            response BLOB,
            PRIMARY KEY (tenant, key)
        )
        """,
        "CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_ms)",
    ),
)


class HostStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._db: SqliteDatabase | None = None
        self._lock = asyncio.Lock()

    async def database(self) -> SqliteDatabase:
        if self._db is None:
            async with self._lock:
                if self._db is None:
                    # NORMAL: in WAL mode a commit survives the process dying (the case
                    # leases exist for) without an fsync per reservation; a power cut may
                    # lose the last few settles, i.e. under-count a moment of spend.
                    self._db = await SqliteDatabase.open(
                        self.path, migrations=MIGRATIONS, synchronous="NORMAL"
                    )
        return self._db

    def opened(self) -> SqliteDatabase:
        """The database, known to be open already (a reservation came from it)."""
        assert self._db is not None
        return self._db

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
