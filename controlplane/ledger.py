"""The router ledger: which routers exist and which snapshot each ACKed or NACKed."""

from __future__ import annotations

from controlplane.model import RouterRecord, RouterReply, now_us
from switchyard.runtime.sqlite import SqliteDatabase

# The newest replies kept per router; older ones are history nobody reads.
REPLIES_KEPT_PER_ROUTER = 200


class RouterLedger:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def known(self, router_id: str) -> bool:
        """True once the router has opened a config stream here."""
        async with self._db.begin() as db:
            row = await db.one("SELECT 1 FROM routers WHERE router_id = ?", (router_id,))
        return row is not None

    async def seen(self, router_id: str) -> None:
        at = now_us()
        async with self._db.begin() as db:
            await db.execute(
                "INSERT INTO routers (router_id, first_seen_us, last_seen_us) VALUES (?, ?, ?)"
                " ON CONFLICT (router_id) DO UPDATE SET last_seen_us = excluded.last_seen_us",
                (router_id, at, at),
            )

    async def record_reply(self, reply: RouterReply) -> None:
        """Log an ACK/NACK and update what the router is known to run."""
        sent = reply.sent
        async with self._db.begin() as db:
            await db.execute(
                "INSERT INTO router_replies (router_id, snapshot_version, nonce, status, error,"
                " time_us) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    reply.router_id,
                    sent.snapshot_version,
                    sent.nonce,
                    reply.status,
                    reply.error,
                    reply.time_us,
                ),
            )
            await db.execute(
                "INSERT INTO routers (router_id, first_seen_us, last_seen_us) VALUES (?, ?, ?)"
                " ON CONFLICT (router_id) DO UPDATE SET last_seen_us = excluded.last_seen_us",
                (reply.router_id, reply.time_us, reply.time_us),
            )
            if reply.status == "ACK":
                await db.execute(
                    "UPDATE routers SET acked_snapshot_version = ?, acked_active_version = ?,"
                    " acked_canary_version = ?, ack_time_us = ? WHERE router_id = ?",
                    (
                        sent.snapshot_version,
                        sent.active_version,
                        sent.canary_version,
                        reply.time_us,
                        reply.router_id,
                    ),
                )
            else:
                await db.execute(
                    "UPDATE routers SET nacked_snapshot_version = ?, nack_error = ?,"
                    " nack_time_us = ? WHERE router_id = ?",
                    (sent.snapshot_version, reply.error, reply.time_us, reply.router_id),
                )
            await db.execute(
                "DELETE FROM router_replies WHERE router_id = ? AND id <= ("
                " SELECT id FROM router_replies WHERE router_id = ? ORDER BY id DESC"
                " LIMIT 1 OFFSET ?)",
                (reply.router_id, reply.router_id, REPLIES_KEPT_PER_ROUTER),
            )

    async def replies(self, router_id: str) -> list[tuple[str, str, str, str]]:
        """(snapshot_version, nonce, status, error) oldest first: the audit of one router."""
        async with self._db.begin() as db:
            rows = await db.all(
                "SELECT snapshot_version, nonce, status, error FROM router_replies"
                " WHERE router_id = ? ORDER BY id",
                (router_id,),
            )
            return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def routers(self, *, after: str = "", limit: int = 10_000) -> list[RouterRecord]:
        """Known routers ordered by id, starting after `after`."""
        async with self._db.begin() as db:
            rows = await db.all(
                "SELECT * FROM routers WHERE router_id > ? ORDER BY router_id LIMIT ?",
                (after, limit),
            )
            return [RouterRecord(**{k: r[k] for k in r.keys()}) for r in rows]
