"""CRUD over real gRPC against a registry on port 0 with a fresh SQLite file."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import field_mask_pb2

from switchyard.registry.v1 import registry_pb2
from switchyard.runtime.errors import field_violations
from tests.registry.conftest import Registry
from tests.registry.profiles import valid_model


async def create(registry: Registry, model_id: str, **kwargs: object) -> registry_pb2.Model:
    response = await registry.stub.CreateModel(
        registry_pb2.CreateModelRequest(model_id=model_id, model=valid_model(), **kwargs)
    )
    return response.model


async def test_create_then_get_returns_the_stored_profile(registry: Registry) -> None:
    """CreateModel stores the profile with server fields; GetModel returns the same thing."""
    created = await create(registry, "small")
    assert created.name == "models/small"
    assert created.etag and created.revision == 1
    assert created.create_time.seconds > 0
    assert created.health.state == registry_pb2.HEALTH_STATE_UNKNOWN
    got = await registry.stub.GetModel(registry_pb2.GetModelRequest(name="models/small"))
    assert got.model == created
    assert got.model.pricing.output_micros_per_mtok == 600_000


async def test_get_unknown_model_is_not_found(registry: Registry) -> None:
    """A name nobody created is NOT_FOUND; a malformed name is INVALID_ARGUMENT."""
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await registry.stub.GetModel(registry_pb2.GetModelRequest(name="models/nope"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as malformed:
        await registry.stub.GetModel(registry_pb2.GetModelRequest(name="small"))
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(malformed.value)] == ["name"]


async def test_duplicate_create_is_already_exists(registry: Registry) -> None:
    """Creating an id twice is ALREADY_EXISTS and leaves the first profile untouched."""
    first = await create(registry, "small")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await create(registry, "small")
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    got = await registry.stub.GetModel(registry_pb2.GetModelRequest(name="models/small"))
    assert got.model == first


async def test_validate_only_create_stores_nothing(registry: Registry) -> None:
    """validate_only answers with the would-be profile but stores no model and no revision."""
    await create(registry, "small", validate_only=True)
    listed = await registry.stub.ListModels(registry_pb2.ListModelsRequest())
    assert list(listed.models) == []
    assert registry.store.revision == 0


async def test_list_pages_through_every_model_once(registry: Registry) -> None:
    """ListModels with page_size 2 over five models returns each once, ordered by name."""
    for model_id in ("e", "a", "d", "b", "c"):
        await create(registry, model_id)
    seen: list[str] = []
    token = ""
    while True:
        page = await registry.stub.ListModels(
            registry_pb2.ListModelsRequest(page_size=2, page_token=token)
        )
        assert len(page.models) <= 2
        seen.extend(m.name for m in page.models)
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"models/{x}" for x in "abcde"]


async def test_update_with_mask_changes_only_masked_fields(registry: Registry) -> None:
    """UpdateModel applies the masked fields, bumps the etag and leaves the rest alone."""
    created = await create(registry, "small")
    patch = registry_pb2.Model(name="models/small", etag=created.etag, display_name="Renamed")
    patch.pricing.input_micros_per_mtok = 1  # not in the mask: must be ignored
    updated = (
        await registry.stub.UpdateModel(
            registry_pb2.UpdateModelRequest(
                model=patch, update_mask=field_mask_pb2.FieldMask(paths=["display_name"])
            )
        )
    ).model
    assert updated.display_name == "Renamed"
    assert updated.pricing.input_micros_per_mtok == created.pricing.input_micros_per_mtok
    assert updated.etag != created.etag
    assert updated.revision == created.revision + 1
    assert updated.create_time == created.create_time


async def test_stale_etag_update_is_aborted(registry: Registry) -> None:
    """An update carrying an etag from before another change is ABORTED and changes nothing."""
    created = await create(registry, "small")
    mask = field_mask_pb2.FieldMask(paths=["display_name"])
    first = registry_pb2.Model(name="models/small", etag=created.etag, display_name="One")
    await registry.stub.UpdateModel(registry_pb2.UpdateModelRequest(model=first, update_mask=mask))
    stale = registry_pb2.Model(name="models/small", etag=created.etag, display_name="Two")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await registry.stub.UpdateModel(
            registry_pb2.UpdateModelRequest(model=stale, update_mask=mask)
        )
    assert err.value.code() == grpc.StatusCode.ABORTED
    got = await registry.stub.GetModel(registry_pb2.GetModelRequest(name="models/small"))
    assert got.model.display_name == "One"


async def test_concurrent_writers_with_one_etag_exactly_one_wins(registry: Registry) -> None:
    """Ten writers racing with the same etag: exactly one succeeds, nine are ABORTED."""
    created = await create(registry, "small")
    mask = field_mask_pb2.FieldMask(paths=["display_name"])

    async def write(i: int) -> grpc.StatusCode:
        patch = registry_pb2.Model(name="models/small", etag=created.etag, display_name=f"w{i}")
        try:
            await registry.stub.UpdateModel(
                registry_pb2.UpdateModelRequest(model=patch, update_mask=mask)
            )
        except grpc.aio.AioRpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK

    codes = await asyncio.gather(*(write(i) for i in range(10)))
    assert codes.count(grpc.StatusCode.OK) == 1
    assert codes.count(grpc.StatusCode.ABORTED) == 9
    assert registry.store.revision == 2


async def test_invalid_update_changes_nothing(registry: Registry) -> None:
    """A multi-field update with one bad field is rejected whole: no field is applied."""
    created = await create(registry, "small")
    patch = valid_model()
    patch.name = "models/small"
    patch.display_name = "Should not stick"
    patch.pricing.output_micros_per_mtok = -5
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await registry.stub.UpdateModel(
            registry_pb2.UpdateModelRequest(
                model=patch, update_mask=field_mask_pb2.FieldMask(paths=["display_name", "pricing"])
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(err.value)] == [
        "model.pricing.output_micros_per_mtok"
    ]
    got = await registry.stub.GetModel(registry_pb2.GetModelRequest(name="models/small"))
    assert got.model == created


async def test_sub_field_mask_and_empty_mask(registry: Registry) -> None:
    """A `pricing.input_micros_per_mtok` mask keeps the output price; an empty mask takes
    every spec field set in the request (AIP-134) and leaves unset ones alone."""
    created = await create(registry, "small")
    patch = registry_pb2.Model(name="models/small")
    patch.pricing.input_micros_per_mtok = 1
    sub = await registry.stub.UpdateModel(
        registry_pb2.UpdateModelRequest(
            model=patch,
            update_mask=field_mask_pb2.FieldMask(paths=["pricing.input_micros_per_mtok"]),
        )
    )
    assert sub.model.pricing.input_micros_per_mtok == 1
    assert sub.model.pricing.output_micros_per_mtok == created.pricing.output_micros_per_mtok
    implicit = registry_pb2.Model(name="models/small", display_name="Implicit")
    updated = await registry.stub.UpdateModel(registry_pb2.UpdateModelRequest(model=implicit))
    assert updated.model.display_name == "Implicit"
    assert updated.model.pricing.input_micros_per_mtok == 1
    assert updated.model.labels == created.labels
