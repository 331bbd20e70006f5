"""Typed Python client for Switchyard's gRPC services, async and sync.

    from switchyard.client import ClientConfig, RouterClient, route_request

    with RouterClient(ClientConfig(address="127.0.0.1:50051")) as router:
        reply = router.route(route_request("What is a B-tree?", tier="pro", budget_micros=5_000))

Every call carries a deadline (the config's `timeout_s` unless the call gives one) and
the bearer token when one is set (never in plaintext to an address that is not loopback:
`ClientConfig` raises `PlaintextTokenError` instead). Retries follow a gRFC A6 service
config handed to the channel (retryable codes, exponential backoff, retry throttling),
so gRPC core retries and throttles them, not this module. Failed calls raise a
`CallError` subclass per status code carrying the `google.rpc` details: field
violations, retry delay, quota violations.

`open_channel` / `open_aio_channel` give the same channel (TLS, token, default deadline,
retries) to code that drives other services' generated stubs directly.
"""

from __future__ import annotations

from switchyard.client.channel import open_aio_channel, open_channel
from switchyard.client.config import (
    DEFAULT_ROUTER,
    DEV_TENANT_TOKEN,
    SERVICE_NAMES,
    ClientConfig,
    RetryPolicy,
    TlsConfig,
)
from switchyard.client.errors import (
    AbortedError,
    AlreadyExistsError,
    CallError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    QuotaViolation,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    error_from_rpc,
    raising_call_errors,
)
from switchyard.client.router import AsyncRouterClient, RouterClient, route_request
from switchyard.runtime.tls import PlaintextTokenError

__all__ = [
    "DEFAULT_ROUTER",
    "DEV_TENANT_TOKEN",
    "SERVICE_NAMES",
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
    "PlaintextTokenError",
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
