"""OpenTelemetry tracing: W3C `traceparent` in, spans out over OTLP, nothing when off.

A service traces only when its operator names an OTLP endpoint (`--otlp-endpoint`,
`SWITCHYARD_<SERVICE>_OTLP_ENDPOINT` or the standard `OTEL_EXPORTER_OTLP_ENDPOINT`);
`serve()` then builds one `Tracing` and every unary RPC runs inside `server_span`,
which continues the caller's trace from the gRPC metadata (a missing or malformed
`traceparent` starts a new trace, never an error).

Code deeper down (selection, attempts, provider HTTP calls, verification) calls the
module functions `span`, `annotate`, `http_headers` and `grpc_metadata`. They find the
tracer through a context variable that only `server_span` sets, so with tracing off
each is one context-variable read: no span objects, no attribute dicts, no headers.
Tasks a request starts (ensemble members, hedges) copy the context, so their spans
join the request's trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import grpc
import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanProcessor,
)
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = structlog.get_logger("switchyard.tracing")

INSTRUMENTATION_NAME = "switchyard"
# The two W3C Trace Context headers; gRPC metadata keys are lower-case.
TRACE_HEADERS = ("traceparent", "tracestate")
# Shutdown flushes queued spans; a collector that is down must not hold the exit.
SHUTDOWN_TIMEOUT_S = 2.0

# The codes that make a gRPC server span an error (OpenTelemetry's RPC conventions):
# the server failed. INVALID_ARGUMENT, NOT_FOUND and the like are the caller's mistake.
SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)

_PROPAGATOR = TraceContextTextMapPropagator()
# Set only inside `server_span`: the tracer of the service handling this request.
_TRACER: ContextVar[Tracer | None] = ContextVar("switchyard_tracer", default=None)
# Reusable: entering a nullcontext allocates nothing.
_NO_SPAN: contextlib.nullcontext[None] = contextlib.nullcontext(None)

Attributes = Mapping[str, str | bool | int | float | Sequence[str]]


class Tracing:
    """One service's tracer provider: where its spans go and how they are named."""

    def __init__(self, *, service: str, processor: SpanProcessor) -> None:
        # Resource.create also reads OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES;
        # the service's own name wins so traces always say which service spoke.
        # shutdown_on_exit off: `shutdown()` below bounds the flush; the SDK's own exit
        # hook would block the process exit on a collector that is down.
        self.provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: service}), shutdown_on_exit=False
        )
        self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer(INSTRUMENTATION_NAME)

    @classmethod
    def to_otlp(cls, *, service: str, endpoint: str) -> Tracing:
        """Batch-export to an OTLP/gRPC collector. `http://host:4317` is plaintext,
        `https://` TLS; the exporter reads the other OTEL_EXPORTER_OTLP_* settings
        (headers, certificate, timeout) itself."""
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint)
        log.info("tracing.enabled", endpoint=endpoint, protocol="otlp/grpc")
        return cls(service=service, processor=BatchSpanProcessor(exporter))

    @classmethod
    def to_exporter(cls, exporter: SpanExporter, *, service: str) -> Tracing:
        """Export each span as it ends (tests hand in the SDK's InMemorySpanExporter)."""
        return cls(service=service, processor=SimpleSpanProcessor(exporter))

    @contextlib.contextmanager
    def server_span(self, name: str, metadata: Sequence[tuple[str, Any]] | None) -> Iterator[Span]:
        """The span of one incoming RPC: a child of the caller's `traceparent`, if any."""
        parent = _PROPAGATOR.extract(carrier=trace_carrier(metadata))
        token = _TRACER.set(self.tracer)
        try:
            # The RPC's status code decides the span's status (see traced_unary): an abort
            # is an answer, not a crash with a stack trace.
            with self.tracer.start_as_current_span(
                name,
                context=parent,
                kind=SpanKind.SERVER,
                record_exception=False,
                set_status_on_exception=False,
            ) as current:
                yield current
        finally:
            _TRACER.reset(token)

    async def shutdown(self, *, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> None:
        """Flush queued spans and stop, waiting at most `timeout_s`.

        The SDK's flush blocks while the exporter retries a collector that is down (up
        to OTEL_EXPORTER_OTLP_TIMEOUT, 10 s), so it runs in a daemon thread: neither the
        loop nor the process exit waits for it past the bound.
        """
        loop = asyncio.get_running_loop()
        flushed = asyncio.Event()

        def flush() -> None:
            try:
                self.provider.shutdown()
            finally:
                with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                    loop.call_soon_threadsafe(flushed.set)

        threading.Thread(target=flush, name="tracing-shutdown", daemon=True).start()
        try:
            await asyncio.wait_for(flushed.wait(), timeout_s)
        except TimeoutError:
            log.warning("tracing.shutdown_timeout", timeout_s=timeout_s)


def traced_unary(
    tracing: Tracing, behavior: Callable[..., Awaitable[Any]], method: str
) -> Callable[..., Awaitable[Any]]:
    """`behavior` (a unary handler) inside a server span named `pkg.Service/Method`."""
    name = method.lstrip("/")
    service, _, rpc = name.partition("/")
    attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": rpc}

    async def traced(request: Any, context: grpc.aio.ServicerContext) -> Any:
        with tracing.server_span(name, context.invocation_metadata()) as current:
            current.set_attributes(attributes)
            # Log events of a traced request name its trace: logs and spans join up.
            structlog.contextvars.bind_contextvars(
                trace_id=format(current.get_span_context().trace_id, "032x")
            )
            try:
                return await behavior(request, context)
            finally:
                code = context.code()
                if isinstance(code, grpc.StatusCode):
                    current.set_attribute("rpc.grpc.status_code", code.value[0])
                    if code in SERVER_FAULTS:
                        current.set_status(StatusCode.ERROR, context.details() or code.name)
                else:
                    current.set_attribute("rpc.grpc.status_code", 0)

    return traced


def trace_carrier(metadata: Sequence[tuple[str, Any]] | None) -> dict[str, str]:
    """The Trace Context entries of gRPC metadata (binary values are not W3C headers)."""
    carrier: dict[str, str] = {}
    for key, value in metadata or ():
        if key in TRACE_HEADERS and isinstance(value, str):
            carrier[key] = value
    return carrier


def active() -> bool:
    """True inside a traced request (the caller may then build span attributes)."""
    return _TRACER.get() is not None


def span(
    name: str, attributes: Attributes | None = None, *, kind: SpanKind = SpanKind.INTERNAL
) -> contextlib.AbstractContextManager[Span | None]:
    """A child of the current span, made current; yields None when not tracing."""
    tracer = _TRACER.get()
    if tracer is None:
        return _NO_SPAN
    return tracer.start_as_current_span(name, attributes=attributes, kind=kind)


def annotate(attributes: Attributes) -> None:
    """Set attributes on the current span (pass a dict built only when `active()`)."""
    trace.get_current_span().set_attributes(attributes)


def http_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """`headers` plus the current span's `traceparent` (the same object when off)."""
    if _TRACER.get() is None:
        return headers
    carrier = dict(headers)
    _PROPAGATOR.inject(carrier)
    return carrier


def grpc_metadata() -> tuple[tuple[str, str], ...] | None:
    """Outgoing gRPC metadata that carries the current span; None when not tracing."""
    if _TRACER.get() is None:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return tuple(carrier.items())
