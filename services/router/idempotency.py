"""Idempotency keys: a retried request gets the first one's result, never a second bill.

Keys are per tenant. The first request with a (tenant, key) claims it and runs; its
response is stored for `ttl_s` and returned, flagged as a replay, to every later
request with that key and the same body (a different body is FAILED_PRECONDITION).
A duplicate that arrives while the first is still running waits for it instead of
calling any model: in this process on the first one's future, across the processes
of a host on the SQLite row (polled with backoff until the first stores its result,
gives up, or its lease runs out because its router died; then the waiter claims the
key and runs itself). Only answers are stored: a request that ends in an error
releases its key, so a retry runs again.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import os
import random
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from services.router.host_store import HostStore
from services.router.spend_metrics import IDEMPOTENT_REPLAYS
from switchyard.router.v1 import router_pb2
from switchyard.runtime.errors import FailedPrecondition
from switchyard.runtime.sqlite import Transaction

log = structlog.get_logger(__name__)

DEFAULT_TTL_S = 24 * 3600
_FIRST_POLL_S = 0.01
_MAX_POLL_S = 0.25


def request_fingerprint(request: router_pb2.RouteRequest) -> str:
    """What "the same request" means: every field but the key and the tenant (the key's
    scope), serialized deterministically (map entries sorted)."""
    body = router_pb2.RouteRequest()
    body.CopyFrom(request)
    body.idempotency_key = ""
    body.tenant = ""
    return hashlib.sha256(body.SerializeToString(deterministic=True)).hexdigest()


@dataclass(frozen=True)
class IdempotencyScope:
    tenant: str
    key: str
    fingerprint: str


class KeyReused(FailedPrecondition):
    reason = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self, scope: IdempotencyScope) -> None:
        super().__init__(
            f"idempotency key {scope.key[:64]!r} was used with a different request body;"
            " use a new key for a new request"
        )


class _Claim(enum.Enum):
    CLAIMED = "claimed"
    BUSY = "busy"
    MISMATCH = "mismatch"
    STORED = "stored"


@dataclass
class _InFlight:
    fingerprint: str
    # The stored response, or None when the leader gave up (error, cancellation).
    done: asyncio.Future[bytes | None]


class IdempotencyStore:
    def __init__(
        self,
        store: HostStore,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        owner: str = "",
    ) -> None:
        self._store = store
        self._ttl_ms = int(ttl_s * 1000)
        self._clock = clock
        self._sleep = sleep
        self._owner = owner or f"{socket.gethostname()}-{os.getpid()}-{random.getrandbits(32):x}"
        self._inflight: dict[tuple[str, str], _InFlight] = {}

    async def run_once(
        self,
        scope: IdempotencyScope,
        *,
        lease_until_s: float,
        produce: Callable[[], Awaitable[bytes]],
    ) -> tuple[bytes, bool]:
        """(response, replayed): the stored response for the key, or `produce()`'s,
        stored. `lease_until_s`: when other routers may assume this one died."""
        slot = (scope.tenant, scope.key)
        while True:
            inflight = self._inflight.get(slot)
            if inflight is None:
                break
            if inflight.fingerprint != scope.fingerprint:
                raise KeyReused(scope)
            stored = await asyncio.shield(inflight.done)
            if stored is not None:
                IDEMPOTENT_REPLAYS.inc()
                return stored, True
            # The first gave up; loop: this one (or another waiter) leads next.
        done: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._inflight[slot] = _InFlight(scope.fingerprint, done)
        outcome: bytes | None = None
        try:
            response, replayed = await self._lead(scope, lease_until_s, produce)
            outcome = response
            if replayed:
                IDEMPOTENT_REPLAYS.inc()
            return response, replayed
        finally:
            del self._inflight[slot]
            done.set_result(outcome)

    async def _lead(
        self,
        scope: IdempotencyScope,
        lease_until_s: float,
        produce: Callable[[], Awaitable[bytes]],
    ) -> tuple[bytes, bool]:
        db = await self._store.database()
        lease_ms = int(lease_until_s * 1000)
        delay = _FIRST_POLL_S
        while True:
            claim, stored = await db.transaction(lambda tx: self._claim(tx, scope, lease_ms))
            if claim is _Claim.STORED:
                assert stored is not None
                return stored, True
            if claim is _Claim.MISMATCH:
                raise KeyReused(scope)
            if claim is _Claim.CLAIMED:
                break
            # Another router runs it: wait for its result (bounded by our deadline).
            await self._sleep(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, _MAX_POLL_S)
        try:
            response = await produce()
        except BaseException:
            db.detached(lambda tx: self._abandon(tx, scope))
            raise
        try:
            await db.transaction(lambda tx: self._complete(tx, scope, response))
        except sqlite3.Error as exc:
            # The answer is paid for: return it. The key stays pending until its lease
            # ends, and a retry after that runs again.
            log.error("idempotency.store_failed", key=scope.key[:64], error=str(exc))
        return response, False

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def _claim(
        self, tx: Transaction, scope: IdempotencyScope, lease_ms: int
    ) -> tuple[_Claim, bytes | None]:
        now = self._now_ms()
        row = await tx.one(
            "SELECT fingerprint, lease_deadline_ms, expires_ms, response"
            " FROM idempotency_keys WHERE tenant = ? AND key = ?",
            (scope.tenant, scope.key),
        )
        if row is not None and row["expires_ms"] < now:
            await tx.execute(
                "DELETE FROM idempotency_keys WHERE tenant = ? AND key = ?",
                (scope.tenant, scope.key),
            )
            row = None
        if row is None:
            await self._purge(tx, now)
            await tx.execute(
                "INSERT INTO idempotency_keys"
                " (tenant, key, fingerprint, owner, lease_deadline_ms, expires_ms, response)"
                " VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (
                    scope.tenant,
                    scope.key,
                    scope.fingerprint,
                    self._owner,
                    lease_ms,
                    lease_ms + self._ttl_ms,
                ),
            )
            return _Claim.CLAIMED, None
        if row["fingerprint"] != scope.fingerprint:
            return _Claim.MISMATCH, None
        if row["response"] is not None:
            return _Claim.STORED, bytes(row["response"])
        if row["lease_deadline_ms"] < now:
            # Its router died mid-call: take the key over.
            await tx.execute(
                "UPDATE idempotency_keys SET owner = ?, lease_deadline_ms = ?, expires_ms = ?"
                " WHERE tenant = ? AND key = ?",
                (self._owner, lease_ms, lease_ms + self._ttl_ms, scope.tenant, scope.key),
            )
            return _Claim.CLAIMED, None
        return _Claim.BUSY, None

    async def _complete(self, tx: Transaction, scope: IdempotencyScope, response: bytes) -> None:
        await tx.execute(
            "UPDATE idempotency_keys SET response = ?, expires_ms = ?"
            " WHERE tenant = ? AND key = ? AND owner = ?",
            (response, self._now_ms() + self._ttl_ms, scope.tenant, scope.key, self._owner),
        )

    async def _abandon(self, tx: Transaction, scope: IdempotencyScope) -> None:
        await tx.execute(
            "DELETE FROM idempotency_keys"
            " WHERE tenant = ? AND key = ? AND owner = ? AND response IS NULL",
            (scope.tenant, scope.key, self._owner),
        )

    @staticmethod
    async def _purge(tx: Transaction, now_ms: int) -> None:
        """Forget a few expired keys per new one, so the table stays bounded."""
        await tx.execute(
            "DELETE FROM idempotency_keys WHERE rowid IN"
            " (SELECT rowid FROM idempotency_keys WHERE expires_ms < ? LIMIT 64)",
            (now_ms,),
        )
