"""Client configuration: where to connect, deadline, token, TLS and the gRFC A6 retry
policy the channel applies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from switchyard.controlplane.v1 import controlplane_pb2
from switchyard.registry.v1 import registry_pb2
from switchyard.router.v1 import router_pb2
from switchyard.runtime.tls import TlsConfig, check_token_transport
from switchyard.verifier.v1 import verifier_pb2

DEFAULT_ROUTER = "127.0.0.1:50051"
# The development token `make run` gives tenant `demo` (examples/tenants.yaml; tiers free,
# pro, enterprise). Public: never configure it on a router anyone else can reach.
DEV_TENANT_TOKEN = "dev-tenant-token"
# The control plane's development tokens under `make run` (docs/security.md): the
# operator's (every write) and the routers' (config stream, reports, artefacts). Public.
DEV_OPERATOR_TOKEN = "dev-operator-token"
DEV_ROUTER_TOKEN = "dev-router-token"
# Every service the retry policy applies to, named by its descriptor.
SERVICE_NAMES = tuple(
    service.full_name
    for module in (router_pb2, registry_pb2, verifier_pb2, controlplane_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
)


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
class ClientConfig:
    address: str = DEFAULT_ROUTER
    # Deadline for every unary call that does not set its own, seconds.
    timeout_s: float = 10.0
    # Sent as `authorization: Bearer <token>` on every call; empty sends none. Refused
    # (PlaintextTokenError) without `tls` unless the address is loopback.
    token: str = field(default="", repr=False)
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
        # Raises PlaintextTokenError (a ValueError) for a token over plaintext to another host.
        check_token_transport(
            self.address,
            secure=self.tls is not None,
            sends_token=bool(self.token)
            or any(key.lower() == "authorization" for key, _ in self.metadata),
        )

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
        if self.tls is not None:
            options += self.tls.channel_options()
        return options
