"""switchyard.runtime.tracing: the off path, the W3C carrier, configuration, and OTLP
export from a real verifier process to a real OTLP receiver."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import grpc
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from switchyard.runtime import tracing
from switchyard.runtime.config import ServerConfig, load_config
from switchyard.runtime.tracing import Tracing, trace_carrier
from switchyard.verifier.v1 import verifier_pb2 as pb
from switchyard.verifier.v1 import verifier_pb2_grpc
from tests.runtime.otlp_collector import running_collector

REPO = Path(__file__).resolve().parents[2]
TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
PARENT_ID = 0xB7AD6B7169203331
TRACEPARENT = f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-01"


def test_off_the_helpers_create_nothing() -> None:
    """Outside a traced request: one shared no-op context for every span, the caller's
    own header mapping back (not a copy), no gRPC metadata, not active."""
    headers = {"Content-Type": "application/json"}
    assert tracing.span("attempt") is tracing.span("selection")
    with tracing.span("attempt") as current:
        assert current is None
    assert tracing.http_headers(headers) is headers
    assert tracing.grpc_metadata() is None
    assert not tracing.active()


def test_inside_a_server_span_the_helpers_carry_its_trace() -> None:
    """Within server_span: spans are children of the caller's span, and outgoing HTTP
    headers and gRPC metadata hold a traceparent of the same trace (the current span as
    its parent); the caller's header mapping is left as it was."""
    exporter = InMemorySpanExporter()
    traced = Tracing.to_exporter(exporter, service="test")
    headers = {"Accept": "application/json"}
    with traced.server_span("svc/Method", (("traceparent", TRACEPARENT),)) as server:
        assert tracing.active()
        with tracing.span("child") as child:
            assert child is not None
            sent = tracing.http_headers(headers)
            metadata = dict(tracing.grpc_metadata() or ())
            child_id = child.get_span_context().span_id
    assert headers == {"Accept": "application/json"}
    assert sent["Accept"] == "application/json"
    for header in (sent["traceparent"], metadata["traceparent"]):
        assert header == f"00-{TRACE_ID:032x}-{child_id:016x}-01"
    assert server.parent is not None and server.parent.span_id == PARENT_ID
    assert not tracing.active()  # the request's tracer does not outlive it
    assert [s.name for s in exporter.get_finished_spans()] == ["child", "svc/Method"]


def test_the_carrier_keeps_only_trace_context_text_entries() -> None:
    """Other metadata (tokens, request ids) and binary values stay out of the carrier."""
    metadata = (
        ("authorization", "Bearer secret"),
        ("traceparent", TRACEPARENT),
        ("tracestate", "vendor=1"),
        ("x-request-id", "r-1"),
        ("traceparent-bin", b"\x00"),
    )
    assert trace_carrier(metadata) == {"traceparent": TRACEPARENT, "tracestate": "vendor=1"}
    assert trace_carrier(None) == {}


@pytest.mark.parametrize(
    ("environ", "argv", "expected"),
    [
        ({}, [], ""),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317"}, [], "http://a:4317"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:4317",
            },
            [],
            "http://t:4317",
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317", "SVC_OTLP_ENDPOINT": "http://s:1"},
            [],
            "http://s:1",
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317", "SVC_OTLP_ENDPOINT": "http://s:1"},
            ["--otlp-endpoint", "http://flag:2"],
            "http://flag:2",
        ),
    ],
)
def test_the_endpoint_comes_from_the_standard_variable_the_services_own_or_the_flag(
    environ: dict[str, str], argv: list[str], expected: str
) -> None:
    """Precedence: OTEL_EXPORTER_OTLP_ENDPOINT < its traces-specific variant < the
    service's own variable < --otlp-endpoint; nothing set leaves tracing off."""
    config = load_config(ServerConfig, env_prefix="SVC_", argv=argv, environ=environ)
    assert config.otlp_endpoint == expected


async def test_shutdown_ends_even_when_the_collector_is_down() -> None:
    """A collector nobody listens on: shutdown still returns, within its bound."""
    traced = Tracing.to_otlp(service="test", endpoint="http://127.0.0.1:9")
    with traced.server_span("svc/Method", None):
        pass
    async with asyncio.timeout(2):
        await traced.shutdown(timeout_s=0.2)


async def test_a_verifier_process_exports_its_span_over_otlp(tmp_path: Path) -> None:
    """`python -m services.verifier --otlp-endpoint URL`: a Verify call with a traceparent
    reaches the OTLP receiver as a server span of that trace, parented on the caller's
    span, under service.name verifier; SIGTERM still exits 0."""
    async with running_collector() as collector:
        port_file = tmp_path / "verifier.port"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "services.verifier", "--port", "0", "--port-file", str(port_file)),
            *("--otlp-endpoint", collector.endpoint),
            cwd=REPO,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            # Export within 50 ms rather than the SDK's 5 s batch delay.
            env={**os.environ, "PYTHONPATH": str(REPO), "OTEL_BSP_SCHEDULE_DELAY": "50"},
        )
        try:
            async with asyncio.timeout(20):
                while not port_file.exists():
                    assert process.returncode is None, "verifier exited before serving"
                    await asyncio.sleep(0.05)
            port = int(port_file.read_text())
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = verifier_pb2_grpc.VerifierServiceStub(channel)
                await stub.Verify(
                    pb.VerifyRequest(
                        candidate=pb.Candidate(output="fine"),
                        checks=[pb.CheckSpec(name="non_empty")],
                    ),
                    metadata=(("traceparent", TRACEPARENT),),
                    timeout=10,
                )
            spans = await collector.wait_for(lambda got: any(s.trace_id == TRACE_ID for s in got))
            [span] = [s for s in spans if s.trace_id == TRACE_ID]
            assert span.name == "switchyard.verifier.v1.VerifierService/Verify"
            assert span.service == "verifier"
            assert span.parent_span_id == PARENT_ID
            assert span.attributes["rpc.grpc.status_code"] == 0
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), timeout=15) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
