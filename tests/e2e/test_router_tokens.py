"""Router caller tokens end to end: a real suite whose router reads a tenant tokens file
(`--tenant-tokens-file`), called from the Python client with different tokens. An
unknown or missing token is UNAUTHENTICATED; a token cannot name another tenant or a
higher tier than it allows (PERMISSION_DENIED); an accepted request runs as the
token's tenant and tier; health and reflection stay open."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from switchyard.client import (
    AsyncRouterClient,
    ClientConfig,
    InvalidArgumentError,
    PermissionDeniedError,
    UnauthenticatedError,
    route_request,
)
from switchyard.suite import Suite, SuitePorts, SuiteSettings

ACME_TOKEN = "acme-token"
# Stored hashed in the file: only its digest is there.
BIGCO_TOKEN = "bigco-long-random-secret"
TOKENS_FILE = f"""
tokens:
  {ACME_TOKEN}: {{tenant: acme, tiers: [free, pro], default_tier: free}}
  "sha256:{hashlib.sha256(BIGCO_TOKEN.encode()).hexdigest()}":
    {{tenant: bigco, tiers: [enterprise], default_tier: enterprise}}
"""

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def suite(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Suite]:
    state = Path(tmp_path_factory.mktemp("suite"))
    tokens = state / "tenants.yaml"
    tokens.write_text(TOKENS_FILE)
    async with Suite(
        SuiteSettings(state_dir=state, ports=SuitePorts.ephemeral(), tenant_tokens_file=tokens)
    ) as running:
        yield running


def client(suite: Suite, token: str = "") -> AsyncRouterClient:
    return AsyncRouterClient(
        ClientConfig(address=suite.address("router"), token=token, retry=None, timeout_s=20)
    )


def decisions(suite: Suite, count: int) -> list[dict[str, object]]:
    """The router's last `count` route.decided events (its log is JSON lines)."""
    deadline = time.monotonic() + 5
    while True:
        lines = suite.services["router"].log_path.read_text().splitlines()
        found = [json.loads(line) for line in lines if '"event":"route.decided"' in line]
        if len(found) >= count or time.monotonic() > deadline:
            return found[-count:]
        time.sleep(0.05)


async def test_missing_and_unknown_tokens_are_unauthenticated(suite: Suite) -> None:
    """Route() and Plan() without a token, or with one the file does not hold, are
    UNAUTHENTICATED, and authentication comes before validation: an invalid request
    without a token learns nothing about its fields."""
    for token in ("", "not-a-known-token", hashlib.sha256(BIGCO_TOKEN.encode()).hexdigest()):
        async with client(suite, token) as router:
            with pytest.raises(UnauthenticatedError):
                await router.route(route_request("What is a B-tree?"))
            with pytest.raises(UnauthenticatedError):
                await router.plan(route_request("What is a B-tree?"))
            with pytest.raises(UnauthenticatedError):
                await router.route(route_request("", budget_micros=-1))


async def test_a_token_cannot_name_another_tenant(suite: Suite) -> None:
    """acme's token with tenant bigco is PERMISSION_DENIED (TENANT_MISMATCH): no
    caller spends another tenant's budget, in Route() or Plan()."""
    async with client(suite, ACME_TOKEN) as router:
        with pytest.raises(PermissionDeniedError) as info:
            await router.route(route_request("What is a B-tree?", tenant="bigco"))
        assert info.value.reason == "TENANT_MISMATCH"
        assert "'acme'" in info.value.message and "'bigco'" in info.value.message
        with pytest.raises(PermissionDeniedError):
            await router.plan(route_request("What is a B-tree?", tenant="bigco"))


async def test_a_token_cannot_claim_a_higher_tier(suite: Suite) -> None:
    """acme's token allows free and pro: enterprise is PERMISSION_DENIED
    (TIER_NOT_ALLOWED), so it never reaches the enterprise-large rule."""
    async with client(suite, ACME_TOKEN) as router:
        with pytest.raises(PermissionDeniedError) as info:
            await router.route(route_request("Hi", tier="enterprise"))
        assert info.value.reason == "TIER_NOT_ALLOWED"
        with pytest.raises(PermissionDeniedError):
            await router.plan(route_request("Hi", tier="enterprise"))


async def test_the_right_token_runs_as_its_tenant_and_tier(suite: Suite) -> None:
    """acme's token, naming its own tenant or none and an allowed tier or none, is
    answered; the router's decisions record tenant acme and the tier the token gave
    (the default, free, when the request names none)."""
    async with client(suite, ACME_TOKEN) as router:
        first = await router.route(route_request("What is a B-tree?"))
        second = await router.route(route_request("What is a B-tree?", tenant="acme", tier="pro"))
        with pytest.raises(InvalidArgumentError):  # authenticated: now validation speaks
            await router.route(route_request("", budget_micros=-1))
    assert first.rule == second.rule == "short-prompt-small" and first.attempts
    logged = decisions(suite, 2)
    assert [(d["tenant"], d["tier"]) for d in logged] == [("acme", "free"), ("acme", "pro")]


async def test_the_tokens_default_tier_decides_the_route(suite: Suite) -> None:
    """bigco's token (stored hashed) defaults to tier enterprise: a request naming no
    tier is routed by the enterprise rule, in Plan() and Route()."""
    async with client(suite, BIGCO_TOKEN) as router:
        plan = await router.plan(route_request("Hi"))
        reply = await router.route(route_request("Hi", tenant="bigco"))
    assert plan.rule == reply.rule == "enterprise-large"
    assert {a.model_id for a in reply.attempts} == {"large"}
    assert (decisions(suite, 1)[0]["tenant"], decisions(suite, 1)[0]["tier"]) == (
        "bigco",
        "enterprise",
    )


async def test_health_and_reflection_need_no_token(suite: Suite) -> None:
    """Load balancers and grpcurl keep working: health and reflection stay open."""
    async with grpc.aio.insecure_channel(suite.address("router")) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stream = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        async for response in stream:
            names = {s.name for s in response.list_services_response.service}
            assert "switchyard.router.v1.RouterService" in names
            break
