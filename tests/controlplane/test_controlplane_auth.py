"""Control-plane access control: operator, router and read tokens (controlplane/auth.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_status import rpc_status

from controlplane.auth import RULES, Scope
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.runtime.tokens import bearer
from tests.controlplane.cp_harness import (
    EXAMPLE_POLICY,
    ControlPlaneUnderTest,
    start_control_plane,
    stop_control_plane,
)

TOKENS = {
    "operator_tokens": ("op-token",),
    "router_tokens": ("router-token",),
    "read_tokens": ("read-token",),
}


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[ControlPlaneUnderTest]:
    running = await start_control_plane(tmp_path / "cp.db", tokens=TOKENS)
    try:
        yield running
    finally:
        await stop_control_plane(running)


def _publish() -> pb.PublishPolicyRequest:
    return pb.PublishPolicyRequest(source=EXAMPLE_POLICY, author="t", activate=True)


async def test_publish_without_token_is_unauthenticated(secured: ControlPlaneUnderTest) -> None:
    """An unauthenticated publish is refused and stores nothing."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await secured.stub.PublishPolicy(_publish())
    assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "Bearer" in (err.value.details() or "")
    assert not await secured.plane.store.has_policies()


async def test_unknown_token_is_unauthenticated(secured: ControlPlaneUnderTest) -> None:
    """A token nobody configured is UNAUTHENTICATED, named by its fingerprint only."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await secured.stub.PublishPolicy(_publish(), metadata=bearer("guess"))
    assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "guess" not in (err.value.details() or "")


@pytest.mark.parametrize("token", ["router-token", "read-token"])
async def test_write_without_operator_scope_is_denied(
    secured: ControlPlaneUnderTest, token: str
) -> None:
    """Router and read tokens cannot publish, canary or force breakers: PERMISSION_DENIED
    with ErrorInfo-free rich status whose message names the scope needed."""
    calls = [
        secured.stub.PublishPolicy(_publish(), metadata=bearer(token)),
        secured.stub.SetRollout(
            pb.SetRolloutRequest(canary_version=1, canary_percent=5), metadata=bearer(token)
        ),
        secured.stub.SetBreakerOverride(
            pb.SetBreakerOverrideRequest(model_id="m", override=pb.BREAKER_OVERRIDE_FORCED_OPEN),
            metadata=bearer(token),
        ),
        secured.stub.RollbackPolicy(pb.RollbackPolicyRequest(version=1), metadata=bearer(token)),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "needs operator" in (err.value.details() or "")
        status = rpc_status.from_call(err.value)
        assert status is not None and status.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert not await secured.plane.store.has_policies()


async def test_operator_publishes_and_reader_reads(secured: ControlPlaneUnderTest) -> None:
    """The operator token may publish; a read token may list but not subscribe."""
    published = await secured.stub.PublishPolicy(_publish(), metadata=bearer("op-token"))
    assert published.policy.version == 1
    listed = await secured.stub.ListPolicies(
        pb.ListPoliciesRequest(), metadata=bearer("read-token")
    )
    assert [p.version for p in listed.policies] == [1]
    stream = secured.stub.SubscribeRouterConfig(metadata=bearer("read-token"))
    await stream.write(pb.SubscribeRouterConfigRequest(router_id="r"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stream.read()
    assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_router_token_opens_the_config_stream(secured: ControlPlaneUnderTest) -> None:
    """A router token may subscribe and receives the current snapshot; it may not read."""
    await secured.stub.PublishPolicy(_publish(), metadata=bearer("op-token"))
    stream = secured.stub.SubscribeRouterConfig(metadata=bearer("router-token"))
    await stream.write(pb.SubscribeRouterConfigRequest(router_id="r"))
    response = await stream.read()
    assert response.snapshot.rollout.active_version == 1
    stream.cancel()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await secured.stub.ListPolicies(pb.ListPoliciesRequest(), metadata=bearer("router-token"))
    assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_every_rpc_has_a_deliberate_scope() -> None:
    """Each ControlPlaneService method is either listed or falls to operator; the router
    scope never covers a write."""
    methods = pb.DESCRIPTOR.services_by_name["ControlPlaneService"].methods_by_name
    writes = {
        "PublishPolicy",
        "RollbackPolicy",
        "SetRollout",
        "SetBreakerOverride",
        "UploadArtefact",
        "PromoteCanary",
        "SetShadow",
    }
    for name in methods:
        scope = RULES.required_scope(f"/{RULES.service}/{name}")
        if name in writes:
            assert scope is Scope.OPERATOR, name
    for name in ("SubscribeRouterConfig", "ReportRolloutStats", "GetArtefact"):
        assert RULES.required_scope(f"/x/{name}") is Scope.ROUTER
    assert not RULES.allows(Scope.ROUTER, Scope.OPERATOR)
    assert not RULES.allows(Scope.READ, Scope.ROUTER)
    assert RULES.allows(Scope.OPERATOR, Scope.ROUTER)
