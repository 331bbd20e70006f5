"""What every service's RPC handlers run inside: request context, errors, metrics and,
when the operator turns tracing on, a server span per unary RPC (tracing.py).

Each handler is wrapped so that a `SwitchyardError` becomes its status with rich
details, an unexpected exception becomes INTERNAL without a stack trace reaching the
client, and every RPC is counted and timed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc
import structlog

from switchyard.runtime.errors import SwitchyardError
from switchyard.runtime.logging import bind_request
from switchyard.runtime.metrics import RPC_STATS
from switchyard.runtime.tracing import Tracing, traced_unary

log = structlog.get_logger("switchyard.rpc")

REQUEST_ID_HEADER = "x-request-id"


def _request_id(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_HEADER:
            return str(value)
    return None


async def _fail(context: grpc.aio.ServicerContext, exc: BaseException, method: str) -> None:
    if isinstance(exc, SwitchyardError):
        await context.abort_with_status(exc.to_status())
    log.error("rpc.internal_error", method=method, error=repr(exc), exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the service log")


def _code_of(context: grpc.aio.ServicerContext) -> str:
    code = context.code()
    if code is None:
        return "OK"
    return code.name if isinstance(code, grpc.StatusCode) else str(code)


class Instrumentation:
    """Wraps a service's method handlers once, at registration.

    Doing this when handlers are registered instead of in a grpc.aio ServerInterceptor
    keeps the per-call cost to the wrapper itself: an interceptor runs a coroutine and
    a handler lookup on every call (measured: ~80 µs per RPC on a 2-core machine).
    """

    def __init__(self, service: str, *, tracing: Tracing | None = None) -> None:
        self._service = service
        # None (the default): handlers are wrapped exactly as without tracing.
        self._tracing = tracing

    def _unary(self, behavior: Callable[..., Awaitable[Any]], method: str) -> Callable[..., Any]:
        wrapped = self._wrap_unary(behavior, method)
        if self._tracing is None:
            return wrapped
        return traced_unary(self._tracing, wrapped, method)

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                self._wrap_stream(handler.stream_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._unary(handler.stream_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _observe(self, method: str, started: float, code: str) -> None:
        RPC_STATS.method(self._service, method).observe(code, time.perf_counter() - started)

    def _wrap_unary(
        self, behavior: Callable[..., Awaitable[Any]], method: str
    ) -> Callable[..., Any]:
        stats = RPC_STATS.method(self._service, method)  # looked up once, not per call

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            bind_request(_request_id(context))
            started = time.perf_counter()
            try:
                response = await behavior(request, context)
            except grpc.aio.AbortError:
                self._observe(method, started, _code_of(context))
                raise
            except SwitchyardError as exc:
                self._observe(method, started, exc.code.name)
                await _fail(context, exc, method)
            except Exception as exc:
                self._observe(method, started, "INTERNAL")
                await _fail(context, exc, method)
            code = context.code()
            if code is None:  # the common case: label lookups done once, at wrap time
                stats.observe("OK", time.perf_counter() - started)
            else:
                self._observe(method, started, _code_of(context))
            return response

        return wrapped

    def _wrap_stream(
        self, behavior: Callable[..., AsyncIterator[Any]], method: str
    ) -> Callable[..., AsyncIterator[Any]]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            bind_request(_request_id(context))
            started = time.perf_counter()
            try:
                async for item in behavior(request, context):
                    yield item
            except grpc.aio.AbortError:
                self._observe(method, started, _code_of(context))
                raise
            except SwitchyardError as exc:
                self._observe(method, started, exc.code.name)
                await _fail(context, exc, method)
            except Exception as exc:
                self._observe(method, started, "INTERNAL")
                await _fail(context, exc, method)
            else:
                self._observe(method, started, _code_of(context))

        return wrapped


class _InstrumentedGenericHandler(grpc.GenericRpcHandler):
    """Fallback lookup path: wraps whatever an inner generic handler returns, once."""

    def __init__(self, inner: grpc.GenericRpcHandler, instrumentation: Instrumentation) -> None:
        self._inner = inner
        self._instrumentation = instrumentation
        self._cache: dict[str, grpc.RpcMethodHandler | None] = {}

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        if method not in self._cache:
            handler = self._inner.service(handler_call_details)
            self._cache[method] = (
                None if handler is None else self._instrumentation.wrap(handler, method)
            )
        return self._cache[method]


class InstrumentedServer:
    """What `register` callbacks receive: a server whose handlers get instrumented.

    Generated `add_XServicer_to_server` functions call the two methods below; anything
    else is passed to the real server untouched.
    """

    def __init__(self, server: grpc.aio.Server, instrumentation: Instrumentation) -> None:
        self._server = server
        self._instrumentation = instrumentation

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(
            tuple(_InstrumentedGenericHandler(h, self._instrumentation) for h in handlers)
        )

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        wrapped = {
            name: self._instrumentation.wrap(handler, f"/{service_name}/{name}")
            for name, handler in method_handlers.items()
        }
        self._server.add_registered_method_handlers(service_name, wrapped)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)
