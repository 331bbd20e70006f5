"""Typed Python client for Switchyard's gRPC services, async and sync.

    from switchyard.client import ClientConfig, RouterClient, route_request

    with RouterClient(ClientConfig(address="127.0.0.1:50051")) as router:
        reply = router.route(route_request("What is a B-tree?", tier="pro", budget_micros=5_000))

Every call carries a deadline (the config's `timeout_s` unless the call gives one) and
the bearer token when one is set. Retries follow a gRFC A6 service config handed to the
channel (retryable codes, exponential backoff, retry throttling), so gRPC core retries
and throttles them, not this module. Failed calls raise a `CallError` subclass per status
code carrying the `google.rpc` details: field violations, retry delay, quota violations.

`open_channel` / `open_aio_channel` give the same channel (TLS, token, default deadline,
retries) to code that drives other services' generated stubs directly.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import grpc
from google.protobuf import message as pb_message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from switchyard.controlplane.v1 import controlplane_pb2
from switchyard.registry.v1 import registry_pb2
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.errors import FieldViolation
from switchyard.verifier.v1 import verifier_pb2

DEFAULT_ROUTER = "127.0.0.1:50051"
# Every service the retry policy applies to, named by its descriptor.
SERVICE_NAMES = tuple(
    service.full_name
    for module in (router_pb2, registry_pb2, verifier_pb2, controlplane_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
)

__all__ = [
    "DEFAULT_ROUTER",
    "AbortedError",
    "AlreadyExistsError",
    "AsyncRouterClient",
    "CallError",
    "ClientConfig",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FieldViolation",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaViolation",
    "ResourceExhaustedError",
    "RetryPolicy",
    "RouterClient",
    "TlsConfig",
    "UnauthenticatedError",
    "UnavailableError",
    "error_from_rpc",
    "open_aio_channel",
    "open_channel",
    "raising_call_errors",
    "route_request",
]


# -- configuration ------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """gRFC A6 retries: which codes, how many attempts, how the backoff grows.

    UNAVAILABLE is the default because it is what a call that never reached a server
    sees, and what the router answers when no route could serve right now. Throttling
    stops retries once more than half the token bucket (`max_tokens`) has drained on
    failures; each success refills `token_ratio`.
    """

    max_attempts: int = 3
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 2.0
    backoff_multiplier: float = 2.0
    retryable_codes: tuple[grpc.StatusCode, ...] = (grpc.StatusCode.UNAVAILABLE,)
    throttle_max_tokens: int = 10
    throttle_token_ratio: float = 0.1

    def __post_init__(self) -> None:
        if not 2 <= self.max_attempts <= 5:
            raise ValueError("max_attempts must be 2..5 (gRPC caps it at 5)")
        if self.initial_backoff_s <= 0 or self.max_backoff_s < self.initial_backoff_s:
            raise ValueError("backoff must be positive and max_backoff_s >= initial_backoff_s")
        if self.backoff_multiplier <= 0 or not self.retryable_codes:
            raise ValueError("backoff_multiplier must be positive, retryable_codes non-empty")
        if not 0 < self.throttle_max_tokens <= 1000 or self.throttle_token_ratio <= 0:
            raise ValueError("throttle_max_tokens must be 0..1000, throttle_token_ratio > 0")

    def service_config(self, services: Sequence[str] = SERVICE_NAMES) -> str:
        """The channel's `grpc.service_config` JSON (gRFC A6)."""
        return json.dumps(
            {
                "methodConfig": [
                    {
                        "name": [{"service": name} for name in services],
                        "retryPolicy": {
                            "maxAttempts": self.max_attempts,
                            "initialBackoff": f"{self.initial_backoff_s}s",
                            "maxBackoff": f"{self.max_backoff_s}s",
                            "backoffMultiplier": self.backoff_multiplier,
                            "retryableStatusCodes": [c.name for c in self.retryable_codes],
                        },
                    }
                ],
                "retryThrottling": {
                    "maxTokens": self.throttle_max_tokens,
                    "tokenRatio": self.throttle_token_ratio,
                },
            }
        )


@dataclass(frozen=True)
class TlsConfig:
    """Server verification (a CA bundle, else the system roots) and optional mutual TLS."""

    root_certificates: Path | None = None
    client_certificate: Path | None = None
    client_key: Path | None = None
    # Expected name in the server's certificate when it differs from the address's host.
    server_name: str = ""

    def __post_init__(self) -> None:
        if (self.client_certificate is None) != (self.client_key is None):
            raise ValueError("mutual TLS needs both client_certificate and client_key")

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path: Path | None) -> bytes | None:
            return path.read_bytes() if path is not None else None

        return grpc.ssl_channel_credentials(
            root_certificates=read(self.root_certificates),
            private_key=read(self.client_key),
            certificate_chain=read(self.client_certificate),
        )


@dataclass(frozen=True)
class ClientConfig:
    address: str = DEFAULT_ROUTER
    # Deadline for every unary call that does not set its own, seconds.
    timeout_s: float = 10.0
    # Sent as `authorization: Bearer <token>` on every call; empty sends none.
    token: str = ""
    tls: TlsConfig | None = None
    # None turns retries off.
    retry: RetryPolicy | None = field(default_factory=RetryPolicy)
    # Extra metadata on every call, e.g. (("x-request-id", "..."),).
    metadata: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.address:
            raise ValueError("address is required (host:port)")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive: every call needs a deadline")

    def call_metadata(self) -> tuple[tuple[str, str], ...]:
        auth = (("authorization", f"Bearer {self.token}"),) if self.token else ()
        return (*auth, *self.metadata)

    def channel_options(self) -> list[tuple[str, Any]]:
        options: list[tuple[str, Any]] = []
        if self.retry is not None:
            options += [
                ("grpc.enable_retries", 1),
                ("grpc.service_config", self.retry.service_config()),
            ]
        else:
            options.append(("grpc.enable_retries", 0))
        if self.tls is not None and self.tls.server_name:
            options.append(("grpc.ssl_target_name_override", self.tls.server_name))
        return options


# -- errors -------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaViolation:
    subject: str
    description: str


class CallError(Exception):
    """A call failed with a gRPC status; the `google.rpc` details are unpacked."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        field_violations: Sequence[FieldViolation] = (),
        retry_delay_s: float | None = None,
        quota_violations: Sequence[QuotaViolation] = (),
        reason: str = "",
        domain: str = "",
        error_metadata: Mapping[str, str] | None = None,
        has_status_details: bool = False,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.field_violations = tuple(field_violations)
        # RetryInfo: how long the server asks the caller to wait, seconds.
        self.retry_delay_s = retry_delay_s
        self.quota_violations = tuple(quota_violations)
        # ErrorInfo: a machine-readable reason within the domain (switchyard.dev).
        self.reason = reason
        self.domain = domain
        self.error_metadata = MappingProxyType(dict(error_metadata or {}))
        # False for a status gRPC made up itself (no server answered with details).
        self.has_status_details = has_status_details

    @property
    def unreachable(self) -> bool:
        """The call never got an answer from a Switchyard server."""
        return (
            self.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
            and not self.has_status_details
        )


class InvalidArgumentError(CallError):
    """The request is wrong; `field_violations` names each field and what to fix."""


class UnauthenticatedError(CallError):
    pass


class PermissionDeniedError(CallError):
    pass


class NotFoundError(CallError):
    pass


class AlreadyExistsError(CallError):
    pass


class AbortedError(CallError):
    """A concurrent change won (an etag mismatch): re-read and retry."""


class FailedPreconditionError(CallError):
    pass


class ResourceExhaustedError(CallError):
    """A budget or quota ran out; `quota_violations` says which when the server tells."""


class DeadlineExceededError(CallError):
    pass


class UnavailableError(CallError):
    """No route could answer (or no server was reached); retry after `retry_delay_s`."""


_ERROR_CLASSES: dict[grpc.StatusCode, type[CallError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.ABORTED: AbortedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
}


def _unpack(detail: Any, message_type: type[pb_message.Message]) -> Any:
    unpacked = message_type()
    detail.Unpack(unpacked)
    return unpacked


def error_from_rpc(error: grpc.RpcError) -> CallError:
    """The typed error for a failed call (sync or asyncio), details unpacked."""
    code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
    message: str = error.details() or ""  # type: ignore[attr-defined]
    try:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
    except ValueError:  # trailers disagree with the status line: ignore the details
        status = None
    fields: dict[str, Any] = {"has_status_details": status is not None}
    violations: list[FieldViolation] = []
    quota: list[QuotaViolation] = []
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = _unpack(detail, error_details_pb2.BadRequest)
            violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            fields["retry_delay_s"] = (
                _unpack(detail, error_details_pb2.RetryInfo).retry_delay.ToNanoseconds() / 1e9
            )
        elif detail.Is(error_details_pb2.QuotaFailure.DESCRIPTOR):
            failure = _unpack(detail, error_details_pb2.QuotaFailure)
            quota += [QuotaViolation(v.subject, v.description) for v in failure.violations]
        elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = _unpack(detail, error_details_pb2.ErrorInfo)
            fields.update(reason=info.reason, domain=info.domain, error_metadata=info.metadata)
    return _ERROR_CLASSES.get(code, CallError)(
        code, message, field_violations=violations, quota_violations=quota, **fields
    )


@contextlib.contextmanager
def raising_call_errors() -> Iterator[None]:
    """Turn `grpc.RpcError` raised inside (sync or awaited) into its `CallError`."""
    try:
        yield
    except grpc.RpcError as error:
        raise error_from_rpc(error) from error


# -- channels -----------------------------------------------------------------------


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class _SyncDefaults(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds the config's metadata to every call and its deadline to unary calls.

    Streams (watches, the router's config stream) stay open as long as they are wanted,
    so they get a deadline only when the caller gives one.
    """

    def __init__(self, config: ClientConfig) -> None:
        self._metadata = config.call_metadata()
        self._timeout_s = config.timeout_s

    def _details(self, details: Any, *, unary: bool) -> _CallDetails:
        timeout = details.timeout
        if timeout is None and unary:
            timeout = self._timeout_s
        return _CallDetails(
            details.method,
            timeout,
            (*(details.metadata or ()), *self._metadata),
            details.credentials,
            details.wait_for_ready,
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details, unary=True), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details, unary=False), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details, unary=True), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details, unary=False), requests)


class _AioDefaults(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    """The asyncio twin of `_SyncDefaults`."""

    def __init__(self, config: ClientConfig) -> None:
        self._metadata = config.call_metadata()
        self._timeout_s = config.timeout_s

    def _details(self, details: Any, *, unary: bool) -> Any:
        timeout = details.timeout
        if timeout is None and unary:
            timeout = self._timeout_s
        metadata = grpc.aio.Metadata(*(details.metadata or ()), *self._metadata)
        return details._replace(timeout=timeout, metadata=metadata)

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details, unary=True), request)

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details, unary=False), request)

    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details, unary=True), requests)

    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details, unary=False), requests)


def open_channel(config: ClientConfig) -> grpc.Channel:
    """A blocking channel with the config's TLS, retries, token and default deadline."""
    options = config.channel_options()
    if config.tls is not None:
        channel = grpc.secure_channel(config.address, config.tls.credentials(), options)
    else:
        channel = grpc.insecure_channel(config.address, options)
    return grpc.intercept_channel(channel, _SyncDefaults(config))


def open_aio_channel(config: ClientConfig) -> grpc.aio.Channel:
    """The asyncio channel; open it inside the event loop that will use it."""
    options = config.channel_options()
    interceptors = [_AioDefaults(config)]
    if config.tls is not None:
        return grpc.aio.secure_channel(
            config.address, config.tls.credentials(), options, interceptors=interceptors
        )
    return grpc.aio.insecure_channel(config.address, options, interceptors=interceptors)


# -- the router ---------------------------------------------------------------------


def route_request(
    prompt: str | Sequence[router_pb2.ChatMessage],
    *,
    task_type: str = "",
    tier: str = "",
    tenant: str = "",
    budget_micros: int = 0,
    latency_slo_ms: int = 0,
    max_output_tokens: int = 0,
    system: str = "",
    response_format: router_pb2.ResponseFormat.ValueType = router_pb2.RESPONSE_FORMAT_UNSPECIFIED,
    metadata: Mapping[str, str] | None = None,
    idempotency_key: str = "",
) -> router_pb2.RouteRequest:
    """A RouteRequest from a prompt (one user turn) or a conversation; 0/"" = policy default."""
    if isinstance(prompt, str):
        messages = [router_pb2.ChatMessage(role="user", content=prompt)]
    else:
        messages = list(prompt)
    if system:
        messages.insert(0, router_pb2.ChatMessage(role="system", content=system))
    return router_pb2.RouteRequest(
        messages=messages,
        task_type=task_type,
        tier=tier,
        tenant=tenant,
        budget_micros=budget_micros,
        latency_slo_ms=latency_slo_ms,
        max_output_tokens=max_output_tokens,
        response_format=response_format,
        metadata=dict(metadata or {}),
        idempotency_key=idempotency_key,
    )


class AsyncRouterClient:
    """`RouterService` over grpc.aio; use `async with` or `await close()`."""

    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config or ClientConfig()
        self._channel = open_aio_channel(self.config)
        self._stub = router_pb2_grpc.RouterServiceStub(self._channel)

    async def route(
        self, request: router_pb2.RouteRequest, *, timeout_s: float | None = None
    ) -> router_pb2.RouteResponse:
        """Answer the request; the deadline bounds every stage the router runs."""
        with raising_call_errors():
            return await self._stub.Route(request, timeout=timeout_s or self.config.timeout_s)

    async def plan(
        self, request: router_pb2.RouteRequest, *, timeout_s: float | None = None
    ) -> router_pb2.PlanResponse:
        """The decision `route` would take for the request, without calling any model."""
        with raising_call_errors():
            return await self._stub.Plan(
                router_pb2.PlanRequest(request=request),
                timeout=timeout_s or self.config.timeout_s,
            )

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncRouterClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class RouterClient:
    """`RouterService` over a blocking channel; use `with` or `close()`."""

    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config or ClientConfig()
        self._channel = open_channel(self.config)
        self._stub = router_pb2_grpc.RouterServiceStub(self._channel)

    def route(
        self, request: router_pb2.RouteRequest, *, timeout_s: float | None = None
    ) -> router_pb2.RouteResponse:
        with raising_call_errors():
            return self._stub.Route(request, timeout=timeout_s or self.config.timeout_s)

    def plan(
        self, request: router_pb2.RouteRequest, *, timeout_s: float | None = None
    ) -> router_pb2.PlanResponse:
        with raising_call_errors():
            return self._stub.Plan(
                router_pb2.PlanRequest(request=request),
                timeout=timeout_s or self.config.timeout_s,
            )

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> RouterClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
