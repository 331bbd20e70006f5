"""Access control: bearer tokens with read, health and admin scopes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.registry.auth import TokenTable, fingerprint, required_scope
from switchyard.registry.v1 import registry_pb2
from tests.registry.conftest import Registry
from tests.registry.profiles import valid_model

ADMIN, READ, HEALTH = "admin-secret", "read-secret", "health-secret"


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


@pytest.fixture
async def secured(start_registry_at, tmp_path: Path) -> AsyncIterator[Registry]:  # type: ignore[no-untyped-def]
    registry, stop = await start_registry_at(
        tmp_path / "r.db", admin_tokens=(ADMIN,), read_tokens=(READ,), health_tokens=(HEALTH,)
    )
    try:
        yield registry
    finally:
        await stop()


async def _code(call: object) -> grpc.StatusCode:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def _create(model_id: str = "small") -> registry_pb2.CreateModelRequest:
    return registry_pb2.CreateModelRequest(model_id=model_id, model=valid_model())


async def test_write_without_token_is_unauthenticated(secured: Registry) -> None:
    """No token, or an unknown one, on a write is UNAUTHENTICATED and stores nothing."""
    assert await _code(secured.stub.CreateModel(_create())) == grpc.StatusCode.UNAUTHENTICATED
    unknown = secured.stub.CreateModel(_create(), metadata=bearer("guess"))
    assert await _code(unknown) == grpc.StatusCode.UNAUTHENTICATED
    assert secured.store.revision == 0


async def test_read_token_cannot_write_but_can_read(secured: Registry) -> None:
    """A read token writing is PERMISSION_DENIED; its reads and watch work."""
    denied = secured.stub.CreateModel(_create(), metadata=bearer(READ))
    assert await _code(denied) == grpc.StatusCode.PERMISSION_DENIED
    await secured.stub.CreateModel(_create(), metadata=bearer(ADMIN))
    got = await secured.stub.GetModel(
        registry_pb2.GetModelRequest(name="models/small"), metadata=bearer(READ)
    )
    assert got.model.name == "models/small"
    listed = await secured.stub.ListModels(registry_pb2.ListModelsRequest(), metadata=bearer(READ))
    assert len(listed.models) == 1
    call = secured.stub.WatchModels(registry_pb2.WatchModelsRequest(), metadata=bearer(READ))
    assert (await call.read()).snapshot.revision == 1
    call.cancel()


async def test_reads_need_a_token_too(secured: Registry) -> None:
    """With auth on, an anonymous read or watch is UNAUTHENTICATED."""
    get = secured.stub.GetModel(registry_pb2.GetModelRequest(name="models/small"))
    assert await _code(get) == grpc.StatusCode.UNAUTHENTICATED
    call = secured.stub.WatchModels(registry_pb2.WatchModelsRequest())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call.read()
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_health_token_reports_health_but_cannot_edit(secured: Registry) -> None:
    """A health token may ReportHealth (routers, probes) but not change profiles."""
    await secured.stub.CreateModel(_create(), metadata=bearer(ADMIN))
    report = registry_pb2.ReportHealthRequest(
        name="models/small", health=registry_pb2.Health(state=registry_pb2.HEALTH_STATE_DOWN)
    )
    assert await _code(secured.stub.ReportHealth(report, metadata=bearer(READ))) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    reported = await secured.stub.ReportHealth(report, metadata=bearer(HEALTH))
    assert reported.model.health.state == registry_pb2.HEALTH_STATE_DOWN
    delete = secured.stub.DeleteModel(
        registry_pb2.DeleteModelRequest(name="models/small"), metadata=bearer(HEALTH)
    )
    assert await _code(delete) == grpc.StatusCode.PERMISSION_DENIED


async def test_history_records_the_token_fingerprint_not_the_token(secured: Registry) -> None:
    """The actor in the history names the caller and the token's fingerprint only."""
    await secured.stub.CreateModel(
        _create(), metadata=[*bearer(ADMIN), ("x-switchyard-actor", "alice")]
    )
    history = await secured.stub.ListModelRevisions(
        registry_pb2.ListModelRevisionsRequest(), metadata=bearer(READ)
    )
    actor = history.revisions[0].actor
    assert actor == f"alice (token {fingerprint(ADMIN)})"
    assert ADMIN not in actor


async def test_health_checks_stay_open(secured: Registry) -> None:
    """grpc.health.v1 answers without a token, so orchestrators can probe readiness."""
    health = health_pb2_grpc.HealthStub(secured.channel)
    response = await health.Check(health_pb2.HealthCheckRequest(service=""))
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_scopes_by_method_and_token() -> None:
    """Writes need admin, ReportHealth health, reads read; a token gets its best scope."""
    assert required_scope("/switchyard.registry.v1.RegistryService/CreateModel").name == "ADMIN"
    assert required_scope("/switchyard.registry.v1.RegistryService/ReportHealth").name == "HEALTH"
    assert required_scope("/switchyard.registry.v1.RegistryService/WatchModels").name == "READ"
    table = TokenTable(admin=["t"], read=["t", "r"])
    assert table.scope_of("t").name == "ADMIN"  # type: ignore[union-attr]
    assert table.scope_of("r").name == "READ"  # type: ignore[union-attr]
    assert table.scope_of("x") is None
    assert not TokenTable().enabled


async def test_no_tokens_means_auth_is_off(registry: Registry) -> None:
    """Without configured tokens every call is allowed (the service warns at start)."""
    await registry.stub.CreateModel(_create())
    assert registry.store.revision == 1
