"""WatchModels: a snapshot first, then every change in revision order."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import field_mask_pb2

from services.registry.notifier import WatcherFellBehind
from switchyard.registry.v1 import registry_pb2
from tests.registry.conftest import Registry
from tests.registry.profiles import valid_model

TIMEOUT_S = 5


async def _create(registry: Registry, model_id: str) -> registry_pb2.Model:
    request = registry_pb2.CreateModelRequest(model_id=model_id, model=valid_model())
    return (await registry.stub.CreateModel(request)).model


async def test_watch_sends_snapshot_then_changes(registry: Registry) -> None:
    """A new watcher gets the fleet as a snapshot, then a create and an update in order."""
    await _create(registry, "small")
    call = registry.stub.WatchModels(registry_pb2.WatchModelsRequest())
    first = await asyncio.wait_for(call.read(), TIMEOUT_S)
    assert first.WhichOneof("event") == "snapshot"
    assert [m.name for m in first.snapshot.models] == ["models/small"]
    assert first.snapshot.revision == 1

    large = await _create(registry, "large")
    patch = registry_pb2.Model(name="models/large", etag=large.etag, display_name="L")
    await registry.stub.UpdateModel(
        registry_pb2.UpdateModelRequest(
            model=patch, update_mask=field_mask_pb2.FieldMask(paths=["display_name"])
        )
    )
    created = await asyncio.wait_for(call.read(), TIMEOUT_S)
    updated = await asyncio.wait_for(call.read(), TIMEOUT_S)
    assert created.change.kind == registry_pb2.CHANGE_KIND_CREATED
    assert created.change.revision == 2 and created.change.name == "models/large"
    assert updated.change.kind == registry_pb2.CHANGE_KIND_UPDATED
    assert updated.change.revision == 3
    assert list(updated.change.changed_fields) == ["display_name"]
    assert updated.change.model.display_name == "L"
    call.cancel()


async def test_watch_resume_sends_exactly_the_missed_changes(registry: Registry) -> None:
    """since_revision=N replays N+1.. from history, then live changes, none twice."""
    for model_id in ("a", "b", "c"):
        await _create(registry, model_id)
    call = registry.stub.WatchModels(registry_pb2.WatchModelsRequest(since_revision=1))
    replayed = [await asyncio.wait_for(call.read(), TIMEOUT_S) for _ in range(2)]
    assert [r.change.revision for r in replayed] == [2, 3]
    await _create(registry, "d")
    live = await asyncio.wait_for(call.read(), TIMEOUT_S)
    assert live.change.revision == 4 and live.change.name == "models/d"
    call.cancel()


async def test_watch_rejects_negative_revision(registry: Registry) -> None:
    """A negative since_revision is INVALID_ARGUMENT."""
    call = registry.stub.WatchModels(registry_pb2.WatchModelsRequest(since_revision=-1))
    try:
        await asyncio.wait_for(call.read(), TIMEOUT_S)
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    else:
        raise AssertionError("expected INVALID_ARGUMENT")


async def _changes_until(call: object, revision: int) -> list[registry_pb2.ModelRevision]:
    """Read change events until `revision` has arrived."""
    seen: list[registry_pb2.ModelRevision] = []
    while not seen or seen[-1].revision < revision:
        event = await asyncio.wait_for(call.read(), TIMEOUT_S)  # type: ignore[attr-defined]
        assert event.WhichOneof("event") == "change"
        seen.append(event.change)
    return seen


async def test_watch_resume_after_disconnect_has_no_gap_and_no_duplicate(
    registry: Registry,
) -> None:
    """A watcher that drops, misses changes and reconnects sees each revision exactly once."""
    await _create(registry, "a")
    call = registry.stub.WatchModels(registry_pb2.WatchModelsRequest())
    snapshot = (await asyncio.wait_for(call.read(), TIMEOUT_S)).snapshot
    applied = snapshot.revision
    b = await _create(registry, "b")
    applied = (await _changes_until(call, b.revision))[-1].revision
    call.cancel()  # the connection drops

    # Changes while disconnected: create, update, health, delete.
    c = await _create(registry, "c")
    patch = registry_pb2.Model(name="models/c", etag=c.etag, display_name="C")
    mask = field_mask_pb2.FieldMask(paths=["display_name"])
    await registry.stub.UpdateModel(registry_pb2.UpdateModelRequest(model=patch, update_mask=mask))
    await registry.stub.ReportHealth(
        registry_pb2.ReportHealthRequest(
            name="models/a", health=registry_pb2.Health(state=registry_pb2.HEALTH_STATE_DOWN)
        )
    )
    await registry.stub.DeleteModel(registry_pb2.DeleteModelRequest(name="models/b"))
    missed_upto = registry.store.revision

    resumed = registry.stub.WatchModels(registry_pb2.WatchModelsRequest(since_revision=applied))
    replay = await _changes_until(resumed, missed_upto)
    live_model = await _create(registry, "d")
    live = await _changes_until(resumed, live_model.revision)
    revisions = [r.revision for r in replay + live]
    assert revisions == list(range(applied + 1, live_model.revision + 1))
    kinds = [r.kind for r in replay]
    assert kinds == [
        registry_pb2.CHANGE_KIND_CREATED,
        registry_pb2.CHANGE_KIND_UPDATED,
        registry_pb2.CHANGE_KIND_HEALTH,
        registry_pb2.CHANGE_KIND_DELETED,
    ]
    assert replay[-1].name == "models/b" and not replay[-1].model.name
    resumed.cancel()


async def test_concurrent_writes_reach_every_watcher_in_order(registry: Registry) -> None:
    """Under concurrent creates, five watchers each see every revision once, ascending."""
    watchers = [registry.stub.WatchModels(registry_pb2.WatchModelsRequest()) for _ in range(5)]
    for call in watchers:
        assert (await asyncio.wait_for(call.read(), TIMEOUT_S)).snapshot.revision == 0
    await asyncio.gather(*(_create(registry, f"m{i}") for i in range(20)))
    for call in watchers:
        changes = await _changes_until(call, 20)
        assert [c.revision for c in changes] == list(range(1, 21))
        call.cancel()


async def test_slow_watcher_is_cut_off_after_what_it_was_sent(start_registry_at, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A watcher further behind than watch_queue_limit gets the changes it was queued, in
    order and without a gap, then WatcherFellBehind; resuming from the last loses nothing."""
    registry, stop = await start_registry_at(tmp_path / "r.db", watch_queue_limit=3)
    try:
        start = registry.store.watch()  # subscribed, but nobody drains the queue
        for i in range(8):
            await _create(registry, f"m{i}")
        assert registry.store.watcher_count == 0  # dropped on overflow
        seen: list[int] = []
        with pytest.raises(WatcherFellBehind):
            async for change in start.subscription.changes():
                seen.append(change.revision)
        assert seen == [1, 2, 3]
        resumed = registry.stub.WatchModels(
            registry_pb2.WatchModelsRequest(since_revision=seen[-1])
        )
        rest = await _changes_until(resumed, 8)
        assert [c.revision for c in rest] == list(range(4, 9))
        resumed.cancel()
    finally:
        await stop()


async def test_stopping_the_server_ends_watch_streams_cleanly(start_registry_at, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """On stop, open watch streams end with OK right away instead of holding the drain
    until the grace period runs out and being cancelled."""
    registry, stop = await start_registry_at(tmp_path / "r.db")
    call = registry.stub.WatchModels(registry_pb2.WatchModelsRequest())
    await asyncio.wait_for(call.read(), TIMEOUT_S)
    stopping = asyncio.create_task(registry.running.stop(60))
    assert await asyncio.wait_for(call.read(), TIMEOUT_S) is grpc.aio.EOF
    assert await call.code() == grpc.StatusCode.OK
    await asyncio.wait_for(stopping, TIMEOUT_S)
    await stop()
