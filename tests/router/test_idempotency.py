"""Idempotency keys (services/router/idempotency.py): a repeat gets the stored result,
a concurrent duplicate waits for the first (in this process and across processes on
one file), another body is refused, keys are per tenant, errors release the key, a
dead router's claim is taken over after its lease, stored results expire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.router.host_store import HostStore
from services.router.idempotency import (
    IdempotencyScope,
    IdempotencyStore,
    KeyReused,
    request_fingerprint,
)
from switchyard.router.v1 import router_pb2
from tests.router.fakes import Clock

SCOPE = IdempotencyScope("acme", "order-42", "fingerprint-a")
T0 = 1_700_000_000.0


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[HostStore]:
    store = HostStore(str(tmp_path / "ledger.db"))
    yield store
    await store.close()


class Producer:
    """Counts calls; each answers b"answer-N" (or NAME-N), after `gate` opens if set."""

    def __init__(self, gate: asyncio.Event | None = None, name: str = "answer") -> None:
        self.calls = 0
        self.gate = gate
        self.name = name

    async def __call__(self) -> bytes:
        self.calls += 1
        n = self.calls
        if self.gate is not None:
            await self.gate.wait()
        return f"{self.name}-{n}".encode()


def wall(now: float = T0) -> Clock:
    clock = Clock()
    clock.now = now
    return clock


async def test_a_repeat_gets_the_stored_result(host: HostStore) -> None:
    """The second request with the key is a replay of the first's bytes; no call."""
    store = IdempotencyStore(host, clock=wall())
    produce = Producer()
    first = await store.run_once(SCOPE, lease_until_s=T0 + 30, produce=produce)
    again = await store.run_once(SCOPE, lease_until_s=T0 + 30, produce=produce)
    assert first == (b"answer-1", False)
    assert again == (b"answer-1", True)
    assert produce.calls == 1


async def test_concurrent_duplicates_in_one_process_wait_for_the_first(host: HostStore) -> None:
    """Five at once: one call; the other four get its answer as replays."""
    store = IdempotencyStore(host, clock=wall())
    gate = asyncio.Event()
    produce = Producer(gate)
    tasks = [
        asyncio.create_task(store.run_once(SCOPE, lease_until_s=T0 + 30, produce=produce))
        for _ in range(5)
    ]
    await asyncio.sleep(0.05)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert produce.calls == 1
    assert sorted(results, key=lambda r: r[1]) == [(b"answer-1", False)] + [(b"answer-1", True)] * 4


async def test_a_duplicate_in_another_process_polls_until_the_first_stores(
    tmp_path: Path,
) -> None:
    """Two stores on one file (two routers): the second sees the pending claim, waits,
    and replays the first's answer; the model is called once."""
    path = str(tmp_path / "ledger.db")
    hosts = [HostStore(path), HostStore(path)]
    try:
        first = IdempotencyStore(hosts[0], clock=wall(), owner="router-1")
        second = IdempotencyStore(hosts[1], clock=wall(), owner="router-2")
        gate = asyncio.Event()
        produce = Producer(gate)
        one = asyncio.create_task(first.run_once(SCOPE, lease_until_s=T0 + 30, produce=produce))
        await asyncio.sleep(0.05)
        two = asyncio.create_task(second.run_once(SCOPE, lease_until_s=T0 + 30, produce=produce))
        await asyncio.sleep(0.1)
        assert not two.done()  # waiting, not calling
        gate.set()
        assert await one == (b"answer-1", False)
        assert await two == (b"answer-1", True)
        assert produce.calls == 1
    finally:
        for h in hosts:
            await h.close()


async def test_a_different_body_under_the_key_is_refused(host: HostStore) -> None:
    """FAILED_PRECONDITION, while the first still runs and after it is stored."""
    store = IdempotencyStore(host, clock=wall())
    gate = asyncio.Event()
    running = asyncio.create_task(
        store.run_once(SCOPE, lease_until_s=T0 + 30, produce=Producer(gate))
    )
    await asyncio.sleep(0.05)
    other = IdempotencyScope(SCOPE.tenant, SCOPE.key, "fingerprint-b")
    with pytest.raises(KeyReused) as info:
        await store.run_once(other, lease_until_s=T0 + 30, produce=Producer())
    assert info.value.code.name == "FAILED_PRECONDITION"
    gate.set()
    await running
    fresh = IdempotencyStore(host, clock=wall())  # no in-process state: the row decides
    with pytest.raises(KeyReused):
        await fresh.run_once(other, lease_until_s=T0 + 30, produce=Producer())


async def test_keys_are_per_tenant(host: HostStore) -> None:
    """The same key from two tenants is two requests."""
    store = IdempotencyStore(host, clock=wall())
    produce = Producer()
    other = IdempotencyScope("globex", SCOPE.key, SCOPE.fingerprint)
    assert (await store.run_once(SCOPE, lease_until_s=T0 + 30, produce=produce))[1] is False
    assert (await store.run_once(other, lease_until_s=T0 + 30, produce=produce))[1] is False
    assert produce.calls == 2


async def test_an_error_releases_the_key(host: HostStore) -> None:
    """A request that failed stored nothing: a retry with the key runs again."""
    store = IdempotencyStore(host, clock=wall())

    async def failing() -> bytes:
        raise RuntimeError("upstream down")

    with pytest.raises(RuntimeError):
        await store.run_once(SCOPE, lease_until_s=T0 + 30, produce=failing)
    await asyncio.sleep(0.05)  # the release is written in the background
    assert await store.run_once(SCOPE, lease_until_s=T0 + 30, produce=Producer()) == (
        b"answer-1",
        False,
    )


async def test_a_cancelled_first_request_lets_a_waiter_run(host: HostStore) -> None:
    """The first is cancelled mid-call (client gone): the duplicate waiting on it runs
    the request itself instead of waiting forever."""
    store = IdempotencyStore(host, clock=wall())
    hanging = Producer(asyncio.Event())
    first = asyncio.create_task(store.run_once(SCOPE, lease_until_s=T0 + 30, produce=hanging))
    await asyncio.sleep(0.05)
    produce = Producer()
    second = asyncio.create_task(store.run_once(SCOPE, lease_until_s=T0 + 30, produce=produce))
    await asyncio.sleep(0.05)
    first.cancel()
    assert await second == (b"answer-1", False)
    assert produce.calls == 1


async def test_a_dead_routers_claim_is_taken_over_after_its_lease(tmp_path: Path) -> None:
    """Router 1 claims the key and dies mid-call; once its lease has passed router 2
    runs the request; router 1's late result does not replace router 2's."""
    path = str(tmp_path / "ledger.db")
    hosts = [HostStore(path), HostStore(path)]
    try:
        clock = wall()
        dead = IdempotencyStore(hosts[0], clock=clock, owner="router-1")
        alive = IdempotencyStore(hosts[1], clock=clock, owner="router-2")
        gate = asyncio.Event()
        stuck = asyncio.create_task(
            dead.run_once(SCOPE, lease_until_s=T0 + 30, produce=Producer(gate, "late"))
        )
        await asyncio.sleep(0.05)
        clock.now = T0 + 31
        produce = Producer()
        assert await alive.run_once(SCOPE, lease_until_s=T0 + 60, produce=produce) == (
            b"answer-1",
            False,
        )
        gate.set()
        assert await stuck == (b"late-1", False)  # its own caller still gets its answer
        replay = await alive.run_once(SCOPE, lease_until_s=T0 + 60, produce=produce)
        assert replay == (b"answer-1", True) and produce.calls == 1
    finally:
        for h in hosts:
            await h.close()


async def test_stored_results_expire_after_the_ttl(host: HostStore) -> None:
    """After ttl_s the key is forgotten and a request with it runs again."""
    clock = wall()
    store = IdempotencyStore(host, ttl_s=60, clock=clock)
    produce = Producer()
    await store.run_once(SCOPE, lease_until_s=T0 + 30, produce=produce)
    clock.now = T0 + 59
    assert (await store.run_once(SCOPE, lease_until_s=T0 + 90, produce=produce))[1] is True
    clock.now = T0 + 61
    assert (await store.run_once(SCOPE, lease_until_s=T0 + 90, produce=produce))[1] is False
    assert produce.calls == 2


def test_the_fingerprint_ignores_key_and_tenant_but_not_the_body() -> None:
    """Same body: same fingerprint whatever the key and tenant (and map order); any
    other field changed: another fingerprint."""

    def body(text: str = "hi", **kw: object) -> router_pb2.RouteRequest:
        return router_pb2.RouteRequest(
            messages=[router_pb2.ChatMessage(role="user", content=text)],
            **kw,  # type: ignore[arg-type]
        )

    base = request_fingerprint(body(metadata={"a": "1", "b": "2"}))
    assert base == request_fingerprint(
        body(metadata={"b": "2", "a": "1"}, idempotency_key="k", tenant="t")
    )
    assert base != request_fingerprint(body("hello", metadata={"a": "1", "b": "2"}))
    assert base != request_fingerprint(body(metadata={"a": "1", "b": "2"}, max_output_tokens=9))
