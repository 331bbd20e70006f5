"""End to end: the whole suite as real processes, told where to send traces by the
standard OTEL_EXPORTER_OTLP_ENDPOINT variable, exporting to a real OTLP receiver."""

from __future__ import annotations

from pathlib import Path

from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.suite import Suite, SuitePorts, SuiteSettings
from tests.runtime.otlp_collector import ReceivedSpan, running_collector

TRACE_ID = 0x5B8EFFF798038103D269B633813FC60C
CLIENT_SPAN_ID = 0xEEE19B7EC3C1B174
TRACEPARENT = f"00-{TRACE_ID:032x}-{CLIENT_SPAN_ID:016x}-01"


def _ours(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    return [s for s in spans if s.trace_id == TRACE_ID]


async def test_one_route_is_one_trace_across_router_and_verifier_processes(
    tmp_path: Path,
) -> None:
    """A Route() with a traceparent: the router process exports its spans and the verifier
    process its Verify span, all in the client's trace; the verifier's span is a child of
    the router's verification span (the trace crossed processes in gRPC metadata)."""
    async with running_collector() as collector:
        suite = Suite(
            SuiteSettings(
                state_dir=tmp_path,
                ports=SuitePorts.ephemeral(),
                extra_env={
                    "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
                    "OTEL_BSP_SCHEDULE_DELAY": "50",
                },
            )
        )
        await suite.start()
        try:
            async with suite.channel("router") as channel:
                response = await router_pb2_grpc.RouterServiceStub(channel).Route(
                    router_pb2.RouteRequest(
                        messages=[
                            router_pb2.ChatMessage(role="user", content="Explain how Raft works.")
                        ],
                        max_output_tokens=200,
                    ),
                    metadata=(("traceparent", TRACEPARENT),),
                    timeout=15,
                )
            assert response.answer

            def complete(spans: list[ReceivedSpan]) -> bool:
                names = {(s.service, s.name) for s in _ours(spans)}
                return ("router", "route") in names and any(
                    service == "verifier" for service, _ in names
                )

            spans = _ours(await collector.wait_for(complete))
        finally:
            await suite.stop()
    by_id = {s.span_id: s for s in spans}
    server = next(s for s in spans if s.name == "switchyard.router.v1.RouterService/Route")
    assert server.service == "router" and server.parent_span_id == CLIENT_SPAN_ID
    route = next(s for s in spans if s.name == "route")
    assert route.parent_span_id == server.span_id
    assert {"selection", "attempt", "provider.http", "verification"} <= {s.name for s in spans}
    for verify in (s for s in spans if s.service == "verifier"):
        parent = by_id[verify.parent_span_id or 0]
        assert parent.service == "router" and parent.name == "verification"
