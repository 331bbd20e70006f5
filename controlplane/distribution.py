"""Fan-out of config snapshots to every subscribed router stream.

The distributor holds the latest committed `ConfigState`; writers hand it a new one
after commit and every waiting stream wakes. Like go-control-plane, a watcher is
answered only when the generation it last sent differs from (is older than) the
current one, so a NACKed snapshot is never sent again on the same stream: only a
newer one goes out.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from controlplane.model import ConfigState


class SnapshotDistributor:
    def __init__(self, initial: ConfigState) -> None:
        initial.check()
        self._current = initial
        self._changed = asyncio.Event()
        # router_id → open streams (a restarting router may briefly hold two).
        self._streams: Counter[str] = Counter()
        self._closed = False

    @property
    def current(self) -> ConfigState:
        return self._current

    def update(self, state: ConfigState) -> bool:
        """Adopt a newer state and wake every stream; older or equal generations are ignored.

        Writers call this after commit; two racing writers may arrive out of order, and
        the generation check keeps the newest.
        """
        if state.generation <= self._current.generation:
            return False
        state.check()
        self._current = state
        woken, self._changed = self._changed, asyncio.Event()
        woken.set()
        return True

    async def newer_than(self, generation: int) -> ConfigState | None:
        """Wait until a deliverable state newer than `generation` exists; None once closed."""
        while not self._closed and (
            self._current.generation <= generation or not self._current.deliverable
        ):
            await self._changed.wait()
        return None if self._closed else self._current

    def close(self) -> None:
        """End every stream's wait: the service is draining and routers should reconnect."""
        self._closed = True
        self._changed.set()

    def stream_opened(self, router_id: str) -> None:
        self._streams[router_id] += 1

    def stream_closed(self, router_id: str) -> None:
        self._streams[router_id] -= 1
        if self._streams[router_id] <= 0:
            del self._streams[router_id]

    def connected(self) -> frozenset[str]:
        return frozenset(self._streams)
