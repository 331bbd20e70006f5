"""Access control: bearer tokens with read, health and admin scopes.

A server interceptor checks `authorization: Bearer <token>` before the registry's
handlers run. Scopes are ordered: read < health (read + ReportHealth) < admin (all).
A missing or unknown token is UNAUTHENTICATED; a known token without the scope the
method needs is PERMISSION_DENIED. With no tokens configured at all, checks are off.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc

from services.registry.config import RegistryConfig
from switchyard.registry.v1 import registry_pb2
from switchyard.runtime.errors import PermissionDenied, SwitchyardError, Unauthenticated
from switchyard.runtime.tokens import bearer_token, fingerprint

__all__ = ["AuthInterceptor", "Scope", "TokenTable", "actor_of", "bearer_token", "fingerprint"]

SERVICE = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name
ACTOR_HEADER = "x-switchyard-actor"


class Scope(enum.IntEnum):
    READ = 1
    HEALTH = 2
    ADMIN = 3


_METHOD_SCOPES = {
    "GetModel": Scope.READ,
    "ListModels": Scope.READ,
    "ListModelRevisions": Scope.READ,
    "WatchModels": Scope.READ,
    "ReportHealth": Scope.HEALTH,
}


def required_scope(method: str) -> Scope:
    """The scope a full method name needs; anything not known to read is a write."""
    return _METHOD_SCOPES.get(method.rsplit("/", 1)[-1], Scope.ADMIN)


class TokenTable:
    def __init__(
        self,
        *,
        admin: Sequence[str] = (),
        health: Sequence[str] = (),
        read: Sequence[str] = (),
    ) -> None:
        self._entries = [
            *((t.encode(), Scope.ADMIN) for t in admin),
            *((t.encode(), Scope.HEALTH) for t in health),
            *((t.encode(), Scope.READ) for t in read),
        ]

    @classmethod
    def from_config(cls, config: RegistryConfig) -> TokenTable:
        return cls(admin=config.admin_tokens, health=config.health_tokens, read=config.read_tokens)

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    def scope_of(self, token: str) -> Scope | None:
        """The highest scope granted to `token`; compared in constant time."""
        presented = token.encode()
        best: Scope | None = None
        for known, scope in self._entries:
            if hmac.compare_digest(presented, known) and (best is None or scope > best):
                best = scope
        return best

    def check(self, method: str, metadata: Sequence[tuple[str, Any]] | None) -> None:
        """Raise Unauthenticated / PermissionDenied unless the caller may call `method`."""
        if not self.enabled:
            return
        token = bearer_token(metadata)
        if not token:
            raise Unauthenticated(
                "missing credentials: send 'authorization: Bearer <token>' (switchyard --token)"
            )
        scope = self.scope_of(token)
        if scope is None:
            raise Unauthenticated(f"unknown token {fingerprint(token)}")
        needed = required_scope(method)
        if scope < needed:
            raise PermissionDenied(
                f"token {fingerprint(token)} has {scope.name.lower()} scope; "
                f"{method.rsplit('/', 1)[-1]} needs {needed.name.lower()}"
            )


def actor_of(metadata: Sequence[tuple[str, Any]] | None) -> str:
    """Who made a change, for the history: the claimed name plus the token's fingerprint."""
    claimed = ""
    for key, value in metadata or ():
        if key == ACTOR_HEADER:
            claimed = (value.decode() if isinstance(value, bytes) else str(value))[:128]
    token = bearer_token(metadata)
    name = claimed.strip() or "anonymous"
    return f"{name} (token {fingerprint(token)})" if token else name


def _rejecting_handler(handler: grpc.RpcMethodHandler, error: SwitchyardError) -> Any:
    # Interceptors run outside the runtime's handler instrumentation, so the rejection
    # aborts with the error's status (and rich details) itself.
    async def reject_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort_with_status(error.to_status())

    async def reject_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort_with_status(error.to_status())
        yield  # pragma: no cover - makes this an async generator

    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(reject_stream, **kwargs)
    return grpc.unary_unary_rpc_method_handler(reject_unary, **kwargs)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Runs TokenTable.check on every RegistryService call; health/reflection stay open."""

    def __init__(self, tokens: TokenTable) -> None:
        self._tokens = tokens

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not method.startswith(f"/{SERVICE}/"):
            return handler
        try:
            self._tokens.check(method, handler_call_details.invocation_metadata)
        except SwitchyardError as exc:
            return _rejecting_handler(handler, exc)
        return handler
