"""The load path end to end against the bare echo server: the body h2load sends is a
valid gRPC call, the fixed-rate client sends exactly its schedule, and the counts of
client and server agree."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bench import client, h2load
from bench.grpc_frame import GRPC_HEADERS, grpc_url, write_body
from bench.interleaved import Member, interleaved, interleaved_figures
from bench.measure import BenchSettings, GrpcTarget
from bench.peers.gateways import litellm_proxy_config, portkey_config
from bench.prom import ROUTE_METHOD
from bench.stack import EchoProcess, start_echo
from bench.stats import count_delta
from switchyard.router.v1 import router_pb2

REQUEST = router_pb2.RouteRequest(
    messages=[router_pb2.ChatMessage(role="user", content="echo this back")]
).SerializeToString()


@pytest_asyncio.fixture
async def echo(tmp_path: Path) -> AsyncIterator[EchoProcess]:
    process = await start_echo(tmp_path)
    try:
        yield process
    finally:
        await process.stop()


@pytest.mark.skipif(shutil.which("h2load") is None, reason="h2load (nghttp2-client) not installed")
async def test_h2load_body_is_a_valid_grpc_call(echo: EchoProcess, tmp_path: Path) -> None:
    """Every request h2load sends with the framed body is answered by a real gRPC server
    and counted once by it."""
    body = write_body(tmp_path / "route.body", REQUEST)
    before = await echo.counts()
    result = await h2load.run(
        grpc_url(echo.address, ROUTE_METHOD),
        requests=200,
        connections=2,
        streams=4,
        body=body,
        headers=GRPC_HEADERS,
        log_file=tmp_path / "h2.log",
    )
    assert (result.started, result.succeeded, result.status["2xx"]) == (200, 200, 200)
    assert len(result.latencies_ms) == 200
    assert count_delta(before, await echo.counts()) == {"OK": 200}


async def test_fixed_rate_sends_its_whole_schedule(echo: EchoProcess) -> None:
    """rate x duration requests from two processes, each answered and counted once."""
    before = await echo.counts()
    run = await client.fixed_rate(echo.address, REQUEST, rate=100, duration_s=0.5, processes=2)
    assert len(run.records) == 50
    assert run.codes == {"OK": 50}
    assert count_delta(before, await echo.counts()) == {"OK": 50}
    offsets = sorted(r.intended_s for r in run.records)
    assert offsets[0] == pytest.approx(0.0, abs=1e-6)
    assert offsets[1] == pytest.approx(0.01, abs=1e-6)  # the two schedules interleave


async def test_sample_keeps_codes_and_decodes_replies(echo: EchoProcess) -> None:
    """The traced sample returns one record per call with the decoded reply."""
    records = await client.sample(echo.address, REQUEST, count=20, concurrency=4)
    assert len(records) == 20 and client.codes_of(records) == {"OK": 20}
    assert {r.model_id for r in records} == {"echo"}


async def test_unreachable_server_is_a_typed_error() -> None:
    """A call that cannot reach a server ends in a status code, never silence."""
    records = await client.sample("127.0.0.1:1", REQUEST, count=2, concurrency=1)
    assert client.codes_of(records) == {"UNAVAILABLE": 2}


def test_peers_get_the_same_two_models_and_fallback() -> None:
    """LiteLLM and Portkey are both configured instant -> backup on the same simulator."""
    sim = "http://127.0.0.1:9/v1"
    litellm = litellm_proxy_config(sim)
    assert [m["litellm_params"]["model"] for m in litellm["model_list"]] == [
        "openai/instant",
        "openai/backup",
    ]
    assert {m["litellm_params"]["api_base"] for m in litellm["model_list"]} == {sim}
    assert litellm["router_settings"]["fallbacks"] == [{"primary": ["backup"]}]
    portkey = portkey_config(sim)
    assert portkey["strategy"] == {"mode": "fallback"}
    assert [t["override_params"]["model"] for t in portkey["targets"]] == ["instant", "backup"]
    assert {t["custom_host"] for t in portkey["targets"]} == {sim}


async def test_alternating_sample_takes_turns_one_call_at_a_time(echo: EchoProcess) -> None:
    """Two targets, five calls each, in the order A B B A A B ...; a target that cannot
    be reached gets its typed errors in its own list, and the server counts its five."""
    before = await echo.counts()
    served, unreachable = await client.alternating_sample(
        [(echo.address, REQUEST), ("127.0.0.1:1", REQUEST)], count=5
    )
    assert client.codes_of(served) == {"OK": 5}
    assert client.codes_of(unreachable) == {"UNAVAILABLE": 5}
    assert count_delta(before, await echo.counts()) == {"OK": 5}
    order = sorted(
        [(r.intended_s, "A") for r in served] + [(r.intended_s, "B") for r in unreachable]
    )
    assert "".join(who for _, who in order) == "ABBAABBAAB"


@pytest.mark.skipif(shutil.which("h2load") is None, reason="h2load (nghttp2-client) not installed")
async def test_interleaved_slices_alternate_and_reconcile(
    echo: EchoProcess, tmp_path: Path
) -> None:
    """Two real servers measured in blocks of slices: each gets one throughput per
    block, a router-added summary from the alternating sample, and counts that
    reconcile against its own server (none of the other's calls counted as its)."""
    (tmp_path / "other").mkdir()
    other = await start_echo(tmp_path / "other")
    try:
        members = [
            Member(
                name,
                GrpcTarget(name, e.address, e.counts, lambda e=e, name=name: {name: e.process.pid}),
                REQUEST,
                write_body(tmp_path / f"{name}.body", REQUEST),
                rps=2000.0,
            )
            for name, e in (("first", echo), ("second", other))
        ]
        out = await interleaved(members, BenchSettings(slice_s=0.1, sample_requests=20), blocks=3)
    finally:
        await other.stop()
    for name in ("first", "second"):
        assert len(out[name]["throughput_rps"]) == 3 and min(out[name]["throughput_rps"]) > 0
        assert out[name]["sampled"] == 20 and out[name]["router_added_ms"]["p99"] >= 0
        assert out[name]["counts"]["reconciled"] is True
    figures = interleaved_figures(out["first"], out["second"])
    assert figures["blocks"] == 3 and figures["median_throughput_drop_pct"] is not None
    low, high = figures["router_added_p99_excess_interval_us"]
    assert low <= high  # 20 calls each: a wide interval, but one from the real sample
    assert "router_added_p99_excess_interval_us" not in out["first"]  # the base has none


@pytest.mark.skipif(shutil.which("h2load") is None, reason="h2load (nghttp2-client) not installed")
async def test_members_on_one_server_reconcile_their_sample_together(
    echo: EchoProcess, tmp_path: Path
) -> None:
    """single, score and auto share a router: the server's count covers all their
    sampled calls, so the sample is reconciled once, against their sum."""
    target = GrpcTarget("echo", echo.address, echo.counts, lambda: {"echo": echo.process.pid})
    body = write_body(tmp_path / "shared.body", REQUEST)
    members = [Member(name, target, REQUEST, body, rps=2000.0) for name in ("a", "b", "c")]
    out = await interleaved(members, BenchSettings(slice_s=0.1, sample_requests=10), blocks=1)
    assert all(out[m.name]["counts"]["reconciled"] for m in members)
    first_runs = out["a"]["counts"]["runs"]
    assert first_runs["interleaved sample (with b, c)"]["sent"] == 30
    assert not any("sample" in label for label in out["b"]["counts"]["runs"])
