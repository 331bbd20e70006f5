"""The tenant spend ledger: how much each tenant spent and holds reserved per window.

`BudgetLedger` is the narrow interface the router depends on (a fleet-wide ledger
service can implement it later); `SqliteLedger` keeps it in one SQLite file that
every router process on a host shares (WAL, one BEGIN IMMEDIATE transaction per
reserve, settle or release, so two processes can never both take the last of a
tenant's budget).

Windows are fixed and aligned to the Unix epoch (a 3600 s window runs from one whole
hour to the next), so every router agrees where one ends and when it resets. A
reservation carries a lease deadline: a router that dies mid-call never settles, and
its hold stops counting once the lease has passed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from services.router.host_store import HostStore
from switchyard.runtime.sqlite import Transaction


@dataclass(frozen=True)
class SpendWindow:
    """One tenant's window: [start_s, start_s + window_s) in Unix seconds."""

    tenant: str
    window_s: int
    start_s: int

    @classmethod
    def at(cls, tenant: str, window_s: int, now_s: float) -> SpendWindow:
        return cls(tenant, window_s, int(now_s // window_s) * window_s)

    @property
    def reset_at_s(self) -> int:
        return self.start_s + self.window_s


@dataclass(frozen=True)
class WindowUsage:
    window: SpendWindow
    spent_micros: int
    # Held by live reservations (calls in flight whose lease has not passed).
    reserved_micros: int

    @property
    def used_micros(self) -> int:
        return self.spent_micros + self.reserved_micros


@dataclass(frozen=True)
class Reservation:
    id: int
    window: SpendWindow
    amount_micros: int


@dataclass(frozen=True)
class Refused:
    """The reservation would have taken the window past its limit."""

    usage: WindowUsage


class BudgetLedger(Protocol):
    async def usage(self, window: SpendWindow) -> WindowUsage:
        """Spent and live-reserved amounts in `window`."""
        ...

    async def reserve(
        self, window: SpendWindow, *, amount_micros: int, limit_micros: int, lease_until_s: float
    ) -> Reservation | Refused:
        """Hold `amount_micros` if spent + reserved + amount stays within the limit."""
        ...

    async def settle(self, reservation: Reservation, actual_micros: int) -> None:
        """Drop the hold and book what the call actually cost (even past its lease)."""
        ...

    async def release(self, reservation: Reservation) -> None:
        """Drop the hold; nothing was spent (cancelled, refused by a breaker)."""
        ...


class SqliteLedger:
    def __init__(self, store: HostStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def usage(self, window: SpendWindow) -> WindowUsage:
        db = await self._store.database()
        row = await db.read_one(_USAGE_SQL, (*_key(window), *_key(window), self._now_ms()))
        assert row is not None
        return WindowUsage(window, int(row[0] or 0), int(row[1] or 0))

    async def reserve(
        self, window: SpendWindow, *, amount_micros: int, limit_micros: int, lease_until_s: float
    ) -> Reservation | Refused:
        lease_ms = int(lease_until_s * 1000)

        async def body(tx: Transaction) -> Reservation | Refused:
            now_ms = self._now_ms()
            # Expired holds belong to routers that died mid-call: they stop counting.
            await tx.execute(
                "DELETE FROM budget_reservations WHERE lease_deadline_ms < ?", (now_ms,)
            )
            usage = await _usage_in(tx, window)
            if usage.used_micros + amount_micros > limit_micros:
                return Refused(usage)
            row = await tx.one(
                "INSERT INTO budget_reservations"
                " (tenant, window_s, window_start_s, amount_micros, lease_deadline_ms)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (*_key(window), amount_micros, lease_ms),
            )
            assert row is not None
            return Reservation(int(row[0]), window, amount_micros)

        db = await self._store.database()
        task = db.detached(body)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            # The caller is gone: a hold it can never settle is dropped once made.
            task.add_done_callback(self._drop_orphan)
            raise

    def _drop_orphan(self, task: asyncio.Task[Reservation | Refused]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        outcome = task.result()
        if isinstance(outcome, Reservation):
            self._store.opened().detached(lambda tx: _delete(tx, outcome))

    async def settle(self, reservation: Reservation, actual_micros: int) -> None:
        window = reservation.window

        async def body(tx: Transaction) -> None:
            await _delete(tx, reservation)
            if actual_micros > 0:
                await tx.execute(
                    "INSERT INTO budget_spend (tenant, window_s, window_start_s, spent_micros)"
                    " VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (tenant, window_s, window_start_s)"
                    " DO UPDATE SET spent_micros = spent_micros + excluded.spent_micros",
                    (*_key(window), actual_micros),
                )
            # Keep the previous window for inspection; older ones are history.
            await tx.execute(
                "DELETE FROM budget_spend WHERE tenant = ? AND window_s = ? AND window_start_s < ?",
                (window.tenant, window.window_s, window.start_s - window.window_s),
            )

        await (await self._store.database()).transaction(body)

    async def release(self, reservation: Reservation) -> None:
        await (await self._store.database()).transaction(lambda tx: _delete(tx, reservation))


def _key(window: SpendWindow) -> tuple[str, int, int]:
    return (window.tenant, window.window_s, window.start_s)


async def _delete(tx: Transaction, reservation: Reservation) -> None:
    await tx.execute("DELETE FROM budget_reservations WHERE id = ?", (reservation.id,))


async def _usage_in(tx: Transaction, window: SpendWindow) -> WindowUsage:
    row = await tx.one(_USAGE_SQL, (*_key(window), *_key(window), 0))
    assert row is not None
    return WindowUsage(window, int(row[0] or 0), int(row[1] or 0))


# Spent, and held by reservations whose lease ends at or after the last parameter.
_USAGE_SQL = (
    "SELECT"
    " (SELECT spent_micros FROM budget_spend"
    "   WHERE tenant = ? AND window_s = ? AND window_start_s = ?),"
    " (SELECT SUM(amount_micros) FROM budget_reservations"
    "   WHERE tenant = ? AND window_s = ? AND window_start_s = ?"
    "   AND lease_deadline_ms >= ?)"
)
