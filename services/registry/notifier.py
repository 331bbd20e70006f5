"""Fan-out of committed changes to watchers, one bounded queue per watcher.

The store publishes each change after its transaction commits, synchronously and in
revision order, so a watcher that subscribed at revision R receives exactly the
changes after R. A watcher that falls `limit` changes behind is cut off rather than
letting one slow client hold the registry's memory; it resumes with since_revision.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from switchyard.registry.v1 import registry_pb2


class WatcherFellBehind(Exception):
    """The watcher's queue overflowed; it must reconnect with since_revision."""


class Subscription:
    def __init__(self, limit: int) -> None:
        self._queue: asyncio.Queue[registry_pb2.ModelRevision | None] = asyncio.Queue(limit)
        self.overflowed = False

    def offer(self, change: registry_pb2.ModelRevision) -> bool:
        """Queue a change without waiting; False when the watcher has fallen behind."""
        try:
            self._queue.put_nowait(change)
        except asyncio.QueueFull:
            self.overflowed = True
            return False
        return True

    def close(self) -> None:
        """End the stream cleanly (registry shutting down)."""
        if self._queue.full():
            self.overflowed = True  # it ends after draining, like a watcher that fell behind
        else:
            self._queue.put_nowait(None)

    async def changes(self) -> AsyncIterator[registry_pb2.ModelRevision]:
        while True:
            if self.overflowed and self._queue.empty():
                raise WatcherFellBehind()
            change = await self._queue.get()
            if change is None:
                return
            yield change


class ChangeNotifier:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._subscriptions: set[Subscription] = set()
        self._closed = False

    @property
    def watcher_count(self) -> int:
        return len(self._subscriptions)

    def subscribe(self) -> Subscription:
        subscription = Subscription(self._limit)
        if self._closed:
            subscription.close()  # shutting down: the stream ends right after its start
        else:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, change: registry_pb2.ModelRevision) -> None:
        for subscription in list(self._subscriptions):
            if not subscription.offer(change):
                self._subscriptions.discard(subscription)

    def close_all(self) -> None:
        self._closed = True
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()
