"""The server interceptor every service runs: request context, errors, metrics.

It wraps each handler so that a `SwitchyardError` becomes its status with rich
details, an unexpected exception becomes INTERNAL without a stack trace reaching the
client, and every RPC is counted and timed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import structlog

from switchyard.runtime.errors import SwitchyardError
from switchyard.runtime.logging import bind_request
from switchyard.runtime.metrics import RPC_SECONDS, RPC_TOTAL

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


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, service: str) -> None:
        self._service = service

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        # Health and reflection are infrastructure: no wrapping, no per-call cost.
        if method.startswith(("/grpc.health", "/grpc.reflection")):
            return handler
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, method),
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
                self._wrap_unary(handler.stream_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _observe(self, method: str, started: float, code: str) -> None:
        RPC_TOTAL.labels(self._service, method, code).inc()
        RPC_SECONDS.labels(self._service, method).observe(time.perf_counter() - started)

    def _wrap_unary(
        self, behavior: Callable[..., Awaitable[Any]], method: str
    ) -> Callable[..., Any]:
        service = self._service

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            bind_request(_request_id(context), service=service)
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
            self._observe(method, started, _code_of(context))
            return response

        return wrapped

    def _wrap_stream(
        self, behavior: Callable[..., AsyncIterator[Any]], method: str
    ) -> Callable[..., AsyncIterator[Any]]:
        service = self._service

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            bind_request(_request_id(context), service=service)
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
