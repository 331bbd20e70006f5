"""Bearer-token access control shared by every service that checks tokens.

A service declares its scopes, which scope each method needs (anything not listed
needs the service's top scope), and which scopes each scope grants. A server
interceptor checks `authorization: Bearer <token>` before the handlers run: a missing
or unknown token is UNAUTHENTICATED; a known token whose scope does not grant the one
the method needs is PERMISSION_DENIED, with a message that names both. With no tokens
configured at all, checks are off (the service logs that at start).
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc

from switchyard.runtime.errors import PermissionDenied, SwitchyardError, Unauthenticated
from switchyard.runtime.tokens import bearer_token, fingerprint

ACTOR_HEADER = "x-switchyard-actor"
S = TypeVar("S", bound=enum.Enum)


@dataclass(frozen=True)
class AccessRules(Generic[S]):
    """Which scope each method of one service needs, and what each scope grants."""

    service: str
    method_scopes: Mapping[str, S]
    # Needed by every method not in method_scopes: new RPCs are writes until listed.
    default_scope: S
    # scope held -> every scope it satisfies (itself included).
    grants: Mapping[S, frozenset[S]]

    def required_scope(self, method: str) -> S:
        return self.method_scopes.get(method.rsplit("/", 1)[-1], self.default_scope)

    def allows(self, held: S, needed: S) -> bool:
        return needed in self.grants.get(held, frozenset({held}))


class TokenTable(Generic[S]):
    """Tokens by scope; a token listed under several scopes holds all of them."""

    def __init__(self, rules: AccessRules[S], tokens: Mapping[S, Sequence[str]]) -> None:
        self.rules = rules
        self._entries = [(t.encode(), scope) for scope, ts in tokens.items() for t in ts]

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    def scopes_of(self, token: str) -> list[S]:
        """Every scope granted to `token`; each comparison runs in constant time."""
        presented = token.encode()
        return [scope for known, scope in self._entries if hmac.compare_digest(presented, known)]

    def check(self, method: str, metadata: Sequence[tuple[str, Any]] | None) -> None:
        """Raise Unauthenticated / PermissionDenied unless the caller may call `method`."""
        if not self.enabled:
            return
        token = bearer_token(metadata)
        if not token:
            raise Unauthenticated(
                "missing credentials: send 'authorization: Bearer <token>' (switchyard --token)"
            )
        held = self.scopes_of(token)
        if not held:
            raise Unauthenticated(f"unknown token {fingerprint(token)}")
        needed = self.rules.required_scope(method)
        if not any(self.rules.allows(scope, needed) for scope in held):
            names = "/".join(sorted(s.name.lower() for s in held))
            raise PermissionDenied(
                f"token {fingerprint(token)} has {names} scope; "
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
    if handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(reject_stream, **kwargs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(reject_unary, **kwargs)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(reject_stream, **kwargs)
    return grpc.unary_unary_rpc_method_handler(reject_unary, **kwargs)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Runs TokenTable.check on every call of the table's service; health/reflection stay open."""

    def __init__(self, tokens: TokenTable[Any]) -> None:
        self._tokens = tokens
        self._prefix = f"/{tokens.rules.service}/"

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not method.startswith(self._prefix):
            return handler
        try:
            self._tokens.check(method, handler_call_details.invocation_metadata)
        except SwitchyardError as exc:
            return _rejecting_handler(handler, exc)
        return handler
