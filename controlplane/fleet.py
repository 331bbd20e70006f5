"""The fleet side of the control plane: breaker view, shared estimates, their signal.

`Fleet` owns the in-memory merge (`FleetBreakers`, `FleetEstimates`): it is rebuilt
from the routers' reports after a restart, so nothing of it is stored. Streams wait on
`changes` to push the view; a ticker moves the time-based states (open waits, leases)
while any router stream is open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping

import structlog

from controlplane.breakers import DEFAULT_LEASE_S, BreakerTimings, FleetBreakers, ModelReport
from controlplane.estimates import FleetEstimates
from controlplane.model import ConfigState
from switchyard.estimate_figures import EstimateFigure, Key
from switchyard.policy import parse_policy
from switchyard.runtime.errors import InvalidArgument

log = structlog.get_logger(__name__)

TICK_S = 0.05


class FleetChanges:
    """A counter with a wake-up: streams wait for it to pass the value they last saw."""

    def __init__(self) -> None:
        self.value = 0
        self._event = asyncio.Event()
        self.closed = False

    def bump(self) -> None:
        self.value += 1
        woken, self._event = self._event, asyncio.Event()
        woken.set()

    async def after(self, seen: int) -> int | None:
        while not self.closed and self.value <= seen:
            await self._event.wait()
        return None if self.closed else self.value

    def close(self) -> None:
        self.closed = True
        self._event.set()


class Fleet:
    def __init__(
        self,
        *,
        connected: Callable[[], frozenset[str]],
        lease_s: float = DEFAULT_LEASE_S,
        tick_s: float = TICK_S,
    ) -> None:
        self.changes = FleetChanges()
        self.breakers = FleetBreakers(lease_s=lease_s, on_change=self.changes.bump)
        self.estimates = FleetEstimates(on_change=self.changes.bump)
        self._connected = connected
        self._tick_s = tick_s
        self._ticker: asyncio.Task[None] | None = None
        self._timings_of: int = -1
        # Reports ignored, by why (shown by ListBreakers and logged).
        self.ignored_unknown_router = 0
        self.ignored_stale_nonce = 0

    def configure(self, state: ConfigState) -> None:
        """The active policy's breaker settings decide waits, budgets and thresholds."""
        active = state.rollout.active_version
        if active == self._timings_of:
            return
        for record in state.policies:
            if record.version == active:
                try:
                    breaker = parse_policy(record.source).breaker
                except InvalidArgument:  # stored versions were validated; be safe anyway
                    return
                self.breakers.configure(BreakerTimings.from_policy(breaker))
                self._timings_of = active

    def ensure_ticking(self) -> None:
        if self._ticker is None and not self.changes.closed:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            try:
                self.breakers.tick(self._connected())
            except Exception as exc:  # a bookkeeping fault must not stop recovery for good
                log.error("fleet.tick_failed", error=repr(exc))

    def report(
        self,
        router_id: str,
        *,
        breakers: Iterable[ModelReport],
        estimates: Mapping[Key, EstimateFigure] | None,
    ) -> None:
        self.breakers.report(router_id, breakers)
        if estimates is not None:
            refused = self.estimates.report(router_id, estimates)
            if refused:
                log.warning("fleet.estimates_refused", router_id=router_id, refused=refused)

    def ignore(self, *, router_id: str, reason: str, **facts: object) -> None:
        if reason == "unknown_router":
            self.ignored_unknown_router += 1
        else:
            self.ignored_stale_nonce += 1
        log.warning("fleet.report_ignored", router_id=router_id, reason=reason, **facts)

    async def close(self) -> None:
        self.changes.close()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
