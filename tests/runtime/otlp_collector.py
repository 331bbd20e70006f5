"""A real OTLP/gRPC trace receiver for tests: the collector side of the protocol the
services export with, on port 0, keeping every span it is sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: int
    span_id: int
    parent_span_id: int | None
    kind: int
    attributes: dict[str, object]


def _value(any_value: object) -> object:
    kind = any_value.WhichOneof("value")  # type: ignore[attr-defined]
    return getattr(any_value, kind) if kind else None


def _received(service: str, span: trace_pb2.Span) -> ReceivedSpan:
    return ReceivedSpan(
        service=service,
        name=span.name,
        trace_id=int.from_bytes(span.trace_id, "big"),
        span_id=int.from_bytes(span.span_id, "big"),
        parent_span_id=int.from_bytes(span.parent_span_id, "big") if span.parent_span_id else None,
        kind=span.kind,
        attributes={a.key: _value(a.value) for a in span.attributes},
    )


@dataclass
class OtlpCollector(trace_service_pb2_grpc.TraceServiceServicer):
    port: int = 0
    spans: list[ReceivedSpan] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def Export(
        self,
        request: trace_service_pb2.ExportTraceServiceRequest,
        context: grpc.aio.ServicerContext,
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            service = str(resource.get("service.name", ""))
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(_received(service, s) for s in scope_spans.spans)
        self._arrived.set()
        return trace_service_pb2.ExportTraceServiceResponse()

    async def wait_for(
        self, done: Callable[[list[ReceivedSpan]], bool], *, timeout_s: float = 15.0
    ) -> list[ReceivedSpan]:
        """The spans so far, once `done(spans)` holds (TimeoutError after timeout_s)."""
        async with asyncio.timeout(timeout_s):
            while not done(self.spans):
                self._arrived.clear()
                await self._arrived.wait()
        return self.spans


@asynccontextmanager
async def running_collector() -> AsyncIterator[OtlpCollector]:
    collector = OtlpCollector()
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    collector.port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield collector
    finally:
        await server.stop(0)
