"""The SQLite tenant ledger (services/router/ledger.py): reservations against a window's
limit, settlement with the actual cost, release, lease expiry, window rollover,
cancellation, and two connections to one file (two router processes) racing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.router.host_store import HostStore
from services.router.ledger import Refused, Reservation, SpendWindow, SqliteLedger
from switchyard.runtime.sqlite import Transaction
from tests.router.fakes import Clock

T0 = 1_699_999_200.0  # a whole hour (472222 × 3600 s): a window starts here


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[HostStore]:
    host = HostStore(str(tmp_path / "ledger.db"))
    yield host
    await host.close()


def wall_clock() -> Clock:
    clock = Clock()
    clock.now = T0
    return clock


async def reserve(
    ledger: SqliteLedger,
    window: SpendWindow,
    amount: int,
    *,
    limit: int = 1000,
    lease: float = T0 + 60,
) -> Reservation | Refused:
    return await ledger.reserve(
        window, amount_micros=amount, limit_micros=limit, lease_until_s=lease
    )


async def test_reservations_count_against_the_limit_until_settled(store: HostStore) -> None:
    """Holds add up against the limit; one that would pass it is refused with the usage
    it saw; settling books the actual cost and frees the rest of the hold."""
    clock = wall_clock()
    ledger = SqliteLedger(store, clock=clock)
    window = SpendWindow.at("acme", 3600, clock())
    first = await reserve(ledger, window, 600)
    assert isinstance(first, Reservation)
    refused = await reserve(ledger, window, 500)
    assert isinstance(refused, Refused)
    assert (refused.usage.spent_micros, refused.usage.reserved_micros) == (0, 600)
    await ledger.settle(first, 200)
    usage = await ledger.usage(window)
    assert (usage.spent_micros, usage.reserved_micros) == (200, 0)
    assert isinstance(await reserve(ledger, window, 800), Reservation)
    assert isinstance(await reserve(ledger, window, 1), Refused)


async def test_release_returns_the_hold_and_books_nothing(store: HostStore) -> None:
    """A released reservation (call never made or cancelled) costs nothing."""
    clock = wall_clock()
    ledger = SqliteLedger(store, clock=clock)
    window = SpendWindow.at("acme", 3600, clock())
    held = await reserve(ledger, window, 1000)
    assert isinstance(held, Reservation)
    await ledger.release(held)
    usage = await ledger.usage(window)
    assert usage.used_micros == 0


async def test_a_dead_routers_hold_expires_with_its_lease(store: HostStore) -> None:
    """A hold nobody settles (its router died mid-call) stops counting once its lease
    deadline passes; a settle that still arrives late books its cost anyway."""
    clock = wall_clock()
    ledger = SqliteLedger(store, clock=clock)
    window = SpendWindow.at("acme", 3600, clock())
    stuck = await reserve(ledger, window, 900, lease=T0 + 30)
    assert isinstance(stuck, Reservation)
    assert isinstance(await reserve(ledger, window, 200), Refused)
    clock.now = T0 + 31
    assert (await ledger.usage(window)).reserved_micros == 0
    late = await reserve(ledger, window, 200, lease=T0 + 90)
    assert isinstance(late, Reservation)
    await ledger.settle(stuck, 300)
    assert (await ledger.usage(window)).spent_micros == 300


async def test_a_new_window_starts_empty_and_says_when_it_resets(store: HostStore) -> None:
    """Windows are aligned to the epoch: spend in one does not count in the next."""
    clock = wall_clock()
    ledger = SqliteLedger(store, clock=clock)
    window = SpendWindow.at("acme", 3600, clock.now + 10)
    assert window.start_s == T0 and window.reset_at_s == T0 + 3600
    held = await reserve(ledger, window, 1000)
    assert isinstance(held, Reservation)
    await ledger.settle(held, 1000)
    later = SpendWindow.at("acme", 3600, T0 + 3600)
    assert (await ledger.usage(later)).used_micros == 0
    assert isinstance(await reserve(ledger, later, 1000, lease=T0 + 3700), Reservation)


async def test_tenants_do_not_share_windows(store: HostStore) -> None:
    """One tenant's spend never limits another."""
    clock = wall_clock()
    ledger = SqliteLedger(store, clock=clock)
    assert isinstance(await reserve(ledger, SpendWindow.at("a", 3600, T0), 1000), Reservation)
    assert isinstance(await reserve(ledger, SpendWindow.at("b", 3600, T0), 1000), Reservation)


async def test_a_cancelled_reserve_leaves_no_hold(store: HostStore) -> None:
    """A caller cancelled while its reservation is being written never holds money: the
    transaction finishes and the orphaned hold is dropped."""
    clock = wall_clock()
    ledger = SqliteLedger(store, clock=clock)
    window = SpendWindow.at("acme", 3600, clock())
    db = await store.database()
    gate = asyncio.Event()

    async def blocker(tx: Transaction) -> None:
        await gate.wait()

    busy = db.detached(blocker)
    caller = asyncio.create_task(reserve(ledger, window, 700))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    gate.set()
    await busy
    for _ in range(100):
        if (await ledger.usage(window)).reserved_micros == 0:
            break
        await asyncio.sleep(0.01)
    assert (await ledger.usage(window)).reserved_micros == 0


async def test_forty_holds_at_once_over_two_connections_grant_exactly_the_limit(
    tmp_path: Path,
) -> None:
    """40 reservations of 100 against 1000, half through each of two connections to
    one file, all at once, each settled in full: exactly 10 are granted."""
    path = str(tmp_path / "ledger.db")
    stores = [HostStore(path), HostStore(path)]
    ledgers = [SqliteLedger(s) for s in stores]
    window = SpendWindow.at("t", 3600, 1e9)

    async def call(i: int) -> bool:
        held = await ledgers[i % 2].reserve(
            window, amount_micros=100, limit_micros=1000, lease_until_s=2e9
        )
        if isinstance(held, Reservation):
            await ledgers[i % 2].settle(held, 100)
            return True
        return False

    try:
        granted = await asyncio.gather(*(call(i) for i in range(40)))
        usage = await ledgers[0].usage(window)
    finally:
        for s in stores:
            await s.close()
    assert sum(granted) == 10
    assert (usage.spent_micros, usage.reserved_micros) == (1000, 0)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    calls=st.lists(st.tuples(st.integers(1, 400), st.floats(0.0, 1.0)), min_size=1, max_size=40),
    limit=st.integers(0, 3000),
)
def test_two_connections_racing_never_overspend(
    tmp_path_factory: pytest.TempPathFactory, calls: list[tuple[int, float]], limit: int
) -> None:
    """Two ledgers on one file (as two router processes have) reserve, then settle at
    most what they reserved, all at once: the window never ends above its limit, and
    every granted hold was booked."""

    async def scenario() -> tuple[int, int]:
        path = str(tmp_path_factory.mktemp("race") / "ledger.db")
        stores = [HostStore(path), HostStore(path)]
        ledgers = [SqliteLedger(s) for s in stores]
        window = SpendWindow.at("t", 3600, 1e9)
        booked = 0

        async def call(i: int, worst: int, share: float) -> None:
            nonlocal booked
            ledger = ledgers[i % 2]
            held = await ledger.reserve(
                window, amount_micros=worst, limit_micros=limit, lease_until_s=2e9
            )
            if isinstance(held, Reservation):
                actual = int(worst * share)
                await ledger.settle(held, actual)
                booked += actual

        try:
            await asyncio.gather(*(call(i, w, s) for i, (w, s) in enumerate(calls)))
            usage = await ledgers[0].usage(window)
        finally:
            for s in stores:
                await s.close()
        assert usage.reserved_micros == 0
        return usage.spent_micros, booked

    spent, booked = asyncio.run(scenario())
    assert spent == booked
    assert spent <= limit
