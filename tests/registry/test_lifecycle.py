"""Delete with etags, health reports, change history and list filters over gRPC."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2

from switchyard.registry.v1 import registry_pb2
from switchyard.runtime.errors import field_violations
from tests.registry.conftest import Registry
from tests.registry.profiles import valid_model


async def _create(
    registry: Registry, model_id: str, mutate: object = None, actor: str = "alice"
) -> registry_pb2.Model:
    model = valid_model()
    if mutate is not None:
        mutate(model)  # type: ignore[operator]
    response = await registry.stub.CreateModel(
        registry_pb2.CreateModelRequest(model_id=model_id, model=model),
        metadata=[("x-switchyard-actor", actor)],
    )
    return response.model


async def _code(call: object) -> grpc.StatusCode:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


async def test_delete_checks_the_etag(registry: Registry) -> None:
    """A stale etag is ABORTED and keeps the model; the current etag deletes it."""
    created = await _create(registry, "small")
    await registry.stub.ReportHealth(
        registry_pb2.ReportHealthRequest(
            name="models/small", health=registry_pb2.Health(state=registry_pb2.HEALTH_STATE_DOWN)
        )
    )
    patch = registry_pb2.Model(name="models/small", display_name="x")
    updated = await registry.stub.UpdateModel(
        registry_pb2.UpdateModelRequest(
            model=patch, update_mask=field_mask_pb2.FieldMask(paths=["display_name"])
        )
    )
    stale = registry_pb2.DeleteModelRequest(name="models/small", etag=created.etag)
    assert await _code(registry.stub.DeleteModel(stale)) == grpc.StatusCode.ABORTED
    assert (await registry.stub.GetModel(registry_pb2.GetModelRequest(name="models/small"))).model
    current = registry_pb2.DeleteModelRequest(name="models/small", etag=updated.model.etag)
    await registry.stub.DeleteModel(current)
    gone = registry.stub.GetModel(registry_pb2.GetModelRequest(name="models/small"))
    assert await _code(gone) == grpc.StatusCode.NOT_FOUND
    again = registry.stub.DeleteModel(registry_pb2.DeleteModelRequest(name="models/small"))
    assert await _code(again) == grpc.StatusCode.NOT_FOUND


async def test_deleted_id_can_be_created_again(registry: Registry) -> None:
    """After a delete the id is free; the new model gets a new etag and revision."""
    first = await _create(registry, "small")
    await registry.stub.DeleteModel(registry_pb2.DeleteModelRequest(name="models/small"))
    second = await _create(registry, "small")
    assert second.etag != first.etag
    assert second.revision == 3


async def test_health_report_keeps_the_etag_and_repeats_are_free(registry: Registry) -> None:
    """ReportHealth bumps the revision, not the etag; an identical report records nothing."""
    created = await _create(registry, "small")
    health = registry_pb2.Health(
        state=registry_pb2.HEALTH_STATE_DEGRADED, reason="p99 over SLO", source="router/r1"
    )
    request = registry_pb2.ReportHealthRequest(name="models/small", health=health)
    reported = (await registry.stub.ReportHealth(request)).model
    assert reported.health.state == registry_pb2.HEALTH_STATE_DEGRADED
    assert reported.health.source == "router/r1"
    assert reported.health.update_time.seconds > 0
    assert reported.etag == created.etag
    assert reported.revision == created.revision + 1
    repeated = (await registry.stub.ReportHealth(request)).model
    assert repeated.revision == reported.revision
    assert registry.store.revision == 2


async def test_health_report_validation(registry: Registry) -> None:
    """An unset health state is INVALID_ARGUMENT; an unknown model is NOT_FOUND."""
    await _create(registry, "small")
    bad = registry_pb2.ReportHealthRequest(name="models/small", health=registry_pb2.Health())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await registry.stub.ReportHealth(bad)
    assert [v.field for v in field_violations(err.value)] == ["health.state"]
    missing = registry_pb2.ReportHealthRequest(
        name="models/nope", health=registry_pb2.Health(state=registry_pb2.HEALTH_STATE_DOWN)
    )
    assert await _code(registry.stub.ReportHealth(missing)) == grpc.StatusCode.NOT_FOUND


async def test_update_mask_rejects_health_and_unknown_paths(registry: Registry) -> None:
    """Health goes through ReportHealth; unknown or output-only paths are named violations."""
    created = await _create(registry, "small")
    patch = registry_pb2.Model(name="models/small", etag=created.etag)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await registry.stub.UpdateModel(
            registry_pb2.UpdateModelRequest(
                model=patch,
                update_mask=field_mask_pb2.FieldMask(paths=["health", "etag", "colour"]),
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(field_violations(err.value)) == 3


async def test_history_says_who_when_and_what(registry: Registry) -> None:
    """ListModelRevisions lists changes newest first with actor, time and changed fields."""
    created = await _create(registry, "small", actor="alice")
    patch = registry_pb2.Model(name="models/small", etag=created.etag)
    patch.pricing.input_micros_per_mtok = 200_000
    patch.pricing.output_micros_per_mtok = created.pricing.output_micros_per_mtok
    await registry.stub.UpdateModel(
        registry_pb2.UpdateModelRequest(
            model=patch, update_mask=field_mask_pb2.FieldMask(paths=["pricing"])
        ),
        metadata=[("x-switchyard-actor", "bob")],
    )
    await _create(registry, "other", actor="carol")
    history = await registry.stub.ListModelRevisions(
        registry_pb2.ListModelRevisionsRequest(name="models/small")
    )
    revisions = list(history.revisions)
    assert [(r.revision, r.kind, r.actor) for r in revisions] == [
        (2, registry_pb2.CHANGE_KIND_UPDATED, "bob"),
        (1, registry_pb2.CHANGE_KIND_CREATED, "alice"),
    ]
    assert list(revisions[0].changed_fields) == ["pricing.input_micros_per_mtok"]
    assert revisions[0].model.pricing.input_micros_per_mtok == 200_000
    assert revisions[0].change_time.seconds >= revisions[1].change_time.seconds > 0


async def test_history_pages_through_the_whole_fleet(registry: Registry) -> None:
    """Fleet-wide history in pages of two returns every revision once, newest first."""
    for model_id in ("a", "b", "c", "d", "e"):
        await _create(registry, model_id)
    seen: list[int] = []
    token = ""
    while True:
        page = await registry.stub.ListModelRevisions(
            registry_pb2.ListModelRevisionsRequest(page_size=2, page_token=token)
        )
        seen.extend(r.revision for r in page.revisions)
        token = page.next_page_token
        if not token:
            break
    assert seen == [5, 4, 3, 2, 1]


async def _ids(registry: Registry, filter_text: str) -> list[str]:
    response = await registry.stub.ListModels(registry_pb2.ListModelsRequest(filter=filter_text))
    return [m.name.removeprefix("models/") for m in response.models]


async def test_list_filters_by_label_capability_task_and_health(registry: Registry) -> None:
    """Each filter term narrows the list; AND combines them."""
    await _create(registry, "small")
    await _create(
        registry,
        "code",
        lambda m: (
            m.capabilities.append(registry_pb2.CAPABILITY_CODE),
            m.quality["code_generation"].__setattr__("score", 0.9),
            m.labels.__setitem__("tier", "medium"),
        ),
    )
    await registry.stub.ReportHealth(
        registry_pb2.ReportHealthRequest(
            name="models/small",
            health=registry_pb2.Health(state=registry_pb2.HEALTH_STATE_SERVING),
        )
    )
    assert await _ids(registry, "labels.tier=medium") == ["code"]
    assert await _ids(registry, 'labels.tier="small"') == ["small"]
    assert await _ids(registry, "capability=CODE") == ["code"]
    assert await _ids(registry, "capability=capability_json_mode") == ["code", "small"]
    assert await _ids(registry, "task_type=code_generation") == ["code"]
    assert await _ids(registry, "health=SERVING") == ["small"]
    assert await _ids(registry, "health=UNKNOWN AND capability=JSON_MODE") == ["code"]
    assert await _ids(registry, "labels.tier=small AND task_type=code_generation") == []


@pytest.mark.parametrize(
    "bad_filter",
    ["tier=small", "labels.tier", "capability=TELEPATHY", "health=FINE", "a=b AND"],
)
async def test_malformed_filter_is_invalid_argument(registry: Registry, bad_filter: str) -> None:
    """A filter that does not parse is INVALID_ARGUMENT naming the filter field."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await registry.stub.ListModels(registry_pb2.ListModelsRequest(filter=bad_filter))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in field_violations(err.value)} == {"filter"}


async def test_malformed_page_token_is_invalid_argument(registry: Registry) -> None:
    """Garbage, or a token issued for another filter, is INVALID_ARGUMENT on page_token."""
    for model_id in ("a", "b", "c"):
        await _create(registry, model_id)
    first = await registry.stub.ListModels(registry_pb2.ListModelsRequest(page_size=1))
    assert first.next_page_token
    for request in (
        registry_pb2.ListModelsRequest(page_token="not-a-token!!"),
        registry_pb2.ListModelsRequest(page_token=first.next_page_token, filter="labels.x=y"),
        registry_pb2.ListModelsRequest(page_size=-1),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await registry.stub.ListModels(request)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert len(field_violations(err.value)) == 1
