"""switchyard.client against a scripted RouterService on port 0: deadlines, token,
retries by service config, TLS, and typed errors carrying the google.rpc details."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from switchyard.client import (
    AsyncRouterClient,
    ClientConfig,
    FieldViolation,
    InvalidArgumentError,
    QuotaViolation,
    ResourceExhaustedError,
    RetryPolicy,
    RouterClient,
    TlsConfig,
    UnavailableError,
    open_aio_channel,
    route_request,
)
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.errors import InvalidArgument, Unavailable
from switchyard.runtime.server import RunningServer, start_server

Script = Callable[[router_pb2.RouteRequest, grpc.aio.ServicerContext], object]


class ScriptedRouter(router_pb2_grpc.RouterServiceServicer):
    """Answers Route() with whatever `script` returns or raises, and records each call."""

    def __init__(self) -> None:
        self.script: Script = lambda request, context: router_pb2.RouteResponse(answer="ok")
        self.calls: list[dict[str, object]] = []

    async def Route(
        self, request: router_pb2.RouteRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.RouteResponse:
        self.calls.append(
            {
                "time_remaining": context.time_remaining(),
                "metadata": dict(context.invocation_metadata() or ()),
            }
        )
        result = self.script(request, context)
        if isinstance(result, grpc.Status):
            await context.abort_with_status(result)
        assert isinstance(result, router_pb2.RouteResponse)
        return result

    async def Plan(
        self, request: router_pb2.PlanRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.PlanResponse:
        return router_pb2.PlanResponse(rule="r", selector="auto", expected_quality=0.9)


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[ScriptedRouter, RunningServer]]:
    router = ScriptedRouter()

    def register(server: grpc.aio.Server) -> list[str]:
        router_pb2_grpc.add_RouterServiceServicer_to_server(router, server)
        return [router_pb2.DESCRIPTOR.services_by_name["RouterService"].full_name]

    running = await start_server(name="router", config=ServerConfig(port=0), register=register)
    try:
        yield router, running
    finally:
        await running.server.stop(0)


def _address(running: RunningServer) -> str:
    return f"127.0.0.1:{running.port}"


def _fail_times(n: int, status: grpc.Status) -> Script:
    def script(request: object, context: object) -> object:
        script.count += 1  # type: ignore[attr-defined]
        return status if script.count <= n else router_pb2.RouteResponse(answer="third time")

    script.count = 0  # type: ignore[attr-defined]
    return script


FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05)


async def test_every_call_carries_a_deadline_and_the_token(scripted) -> None:
    """Without a per-call timeout the config's applies; the token and extra metadata are
    sent on every call, async and sync alike."""
    router, running = scripted
    config = ClientConfig(
        address=_address(running), timeout_s=7, token="t0k", metadata=(("x-request-id", "r1"),)
    )
    async with AsyncRouterClient(config) as client:
        assert (await client.route(route_request("hi"))).answer == "ok"
        await client.route(route_request("hi"), timeout_s=2)
    with RouterClient(config) as sync_client:
        await asyncio.to_thread(sync_client.route, route_request("hi"))
    # A stub on the client's channel, called without a timeout, still gets one.
    async with open_aio_channel(config) as channel:
        await router_pb2_grpc.RouterServiceStub(channel).Route(route_request("hi"))
    remaining = [call["time_remaining"] for call in router.calls]
    assert [round(r) for r in remaining] == [7, 2, 7, 7]  # type: ignore[arg-type]
    for call in router.calls:
        metadata = call["metadata"]
        assert metadata["authorization"] == "Bearer t0k"  # type: ignore[index]
        assert metadata["x-request-id"] == "r1"  # type: ignore[index]


async def test_unavailable_is_retried_by_the_service_config(scripted) -> None:
    """Two UNAVAILABLE answers then success: gRPC retries per the service config and the
    caller sees the answer; with retries off the first failure surfaces, typed."""
    router, running = scripted
    router.script = _fail_times(2, Unavailable("all stages failed").to_status())
    config = ClientConfig(address=_address(running), retry=FAST_RETRY)
    async with AsyncRouterClient(config) as client:
        assert (await client.route(route_request("hi"))).answer == "third time"
    assert len(router.calls) == 3

    router.calls.clear()
    router.script = _fail_times(2, Unavailable("all stages failed", 2.5).to_status())
    async with AsyncRouterClient(ClientConfig(address=_address(running), retry=None)) as client:
        with pytest.raises(UnavailableError) as info:
            await client.route(route_request("hi"))
    assert len(router.calls) == 1
    assert info.value.retry_delay_s == 2.5 and info.value.reason == "NO_ROUTE_AVAILABLE"
    assert not info.value.unreachable


async def test_invalid_argument_is_not_retried_and_names_each_field(scripted) -> None:
    """INVALID_ARGUMENT is not a retryable code: one call, and the error lists the
    BadRequest field violations and the ErrorInfo reason."""
    router, running = scripted
    violations = [FieldViolation("messages", "at least one message is required")]
    router.script = lambda request, context: InvalidArgument(violations).to_status()
    async with AsyncRouterClient(ClientConfig(address=_address(running))) as client:
        with pytest.raises(InvalidArgumentError) as info:
            await client.route(route_request("hi"))
    assert len(router.calls) == 1
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.field_violations == tuple(violations)
    assert (info.value.reason, info.value.domain) == ("INVALID_ARGUMENT", "switchyard.dev")


async def test_resource_exhausted_carries_quota_failure(scripted) -> None:
    """A QuotaFailure detail becomes quota_violations on ResourceExhaustedError (sync)."""
    router, running = scripted
    failure = error_details_pb2.QuotaFailure(
        violations=[error_details_pb2.QuotaFailure.Violation(subject="tenant:a", description="x")]
    )
    packed = any_pb2.Any()
    packed.Pack(failure)
    status = rpc_status.to_status(
        status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message="budget", details=[packed])
    )
    router.script = lambda request, context: status
    with RouterClient(ClientConfig(address=_address(running))) as client:
        with pytest.raises(ResourceExhaustedError) as info:
            await asyncio.to_thread(client.route, route_request("hi"))
    assert info.value.quota_violations == (QuotaViolation("tenant:a", "x"),)
    assert info.value.message == "budget"


async def test_unreachable_router_is_unavailable_without_details() -> None:
    """Nobody listening: UnavailableError flagged unreachable, after the retries."""
    async with AsyncRouterClient(ClientConfig(address="127.0.0.1:1", retry=FAST_RETRY)) as client:
        with pytest.raises(UnavailableError) as info:
            await client.plan(route_request("hi"))
    assert info.value.unreachable and not info.value.has_status_details


async def test_plan_returns_the_plan(scripted) -> None:
    """plan() wraps the request in a PlanRequest and returns the PlanResponse."""
    _, running = scripted
    async with AsyncRouterClient(ClientConfig(address=_address(running))) as client:
        plan = await client.plan(route_request("hi", task_type="math"))
    assert (plan.rule, plan.selector, plan.expected_quality) == ("r", "auto", 0.9)


async def test_streams_get_metadata_but_no_default_deadline(scripted) -> None:
    """A watch stream outlives the unary default deadline (streams only get a deadline
    when the caller sets one)."""
    _, running = scripted
    config = ClientConfig(address=_address(running), timeout_s=0.2)
    async with open_aio_channel(config) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        first = await watch.read()
        await asyncio.sleep(0.5)
        await running.set_serving(False)
        second = await watch.read()
        watch.cancel()
    assert first.status == health_pb2.HealthCheckResponse.SERVING
    assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_service_config_is_grfc_a6() -> None:
    """The service config names every Switchyard service, the retry policy and throttling."""
    config = json.loads(RetryPolicy().service_config())
    method = config["methodConfig"][0]
    assert {"service": "switchyard.router.v1.RouterService"} in method["name"]
    assert len(method["name"]) == 4
    assert method["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert method["retryPolicy"]["maxAttempts"] == 3
    assert config["retryThrottling"] == {"maxTokens": 10, "tokenRatio": 0.1}
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=9)
    with pytest.raises(ValueError):
        ClientConfig(timeout_s=0)


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=router.test"),
            *("-addext", "subjectAltName=DNS:router.test"),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


async def test_tls_verifies_the_server_against_the_given_ca(tmp_path: Path) -> None:
    """With TlsConfig the channel is TLS, verified against root_certificates under the
    expected server name; the call succeeds end to end."""
    key, cert = _self_signed(tmp_path)
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    try:
        tls = TlsConfig(root_certificates=cert, server_name="router.test")
        async with open_aio_channel(ClientConfig(address=f"127.0.0.1:{port}", tls=tls)) as ch:
            reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await server.stop(0)
