"""The provider contract: one completion call to one upstream model, typed outcomes.

Adapters (OpenAI-compatible, Anthropic) translate every way an upstream call can end
(HTTP error, timeout, malformed body, 200-with-error, truncated answer) into an
`Outcome`, so execution logic never sees HTTP or JSON.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol


class Outcome(enum.Enum):
    OK = "ok"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    CLIENT_ERROR = "client_error"
    CONNECTION_ERROR = "connection_error"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"

    @property
    def retryable(self) -> bool:
        """Worth retrying on the same model (gRFC A6 style: transient failures only)."""
        return self in RETRYABLE


RETRYABLE = frozenset(
    {Outcome.TIMEOUT, Outcome.RATE_LIMITED, Outcome.SERVER_ERROR, Outcome.CONNECTION_ERROR}
)


@dataclass(frozen=True)
class ChatTurn:
    role: str
    content: str


@dataclass(frozen=True)
class CompletionRequest:
    upstream_model: str
    messages: tuple[ChatTurn, ...]
    max_tokens: int
    timeout_s: float
    temperature: float = 0.7
    json_mode: bool = False
    stop: tuple[str, ...] = ()
    # An active health check (health_probes.py), sent with HEALTH_CHECK_HEADER so the
    # model server can tell it from traffic.
    health_check: bool = False


HEALTH_CHECK_HEADER = "X-Switchyard-Health-Check"


def request_headers(base: dict[str, str], request: CompletionRequest) -> dict[str, str]:
    return {**base, HEALTH_CHECK_HEADER: "1"} if request.health_check else base


@dataclass(frozen=True)
class Completion:
    outcome: Outcome
    text: str = ""
    finish_reason: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    # Human-readable cause for a non-OK outcome (status code, parse error, ...).
    detail: str = ""
    # Upstream's Retry-After, when it sent one.
    retry_after_s: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Provider(Protocol):
    async def complete(self, request: CompletionRequest) -> Completion: ...

    async def close(self) -> None: ...
