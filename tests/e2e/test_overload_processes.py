"""End to end with real processes (the five services, the router with a small adaptive
concurrency limit, a 300 ms model): a free-tier flood is shed with RESOURCE_EXHAUSTED +
RetryInfo while enterprise traffic beside it is not, admitted calls stay fast, shed
calls never reach a model; a tenant over its rate is refused while another is not; and
when the model slows down the limit comes down (read from the router's /metrics)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import grpc
import pytest
import pytest_asyncio
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from prometheus_client.parser import text_string_to_metric_families

from bench.service import free_port_run
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.suite import Suite
from tests.suites import suite_settings

MODEL_MS = 300
SIMULATOR = f"""
models:
  small: {{ttft_ms: {MODEL_MS}, tokens_per_second: 0, quality: 1.0, answer_tokens: 40}}
  medium: {{ttft_ms: 5, tokens_per_second: 0, quality: 1.0, answer_tokens: 40}}
  large: {{ttft_ms: 5, quality: 1.0, answer_tokens: 40}}
  code: {{ttft_ms: 5, quality: 1.0, answer_tokens: 40}}
"""
POLICY = """
name: overload-e2e
max_deadline_ms: 20000
budget_micros: 100000
retry: {max_retries: 0}
checks: [{name: non_empty}]
rate_limits:
  noisy: {requests_per_s: 1, burst: 3}
rules:
  - name: quick
    when: {metadata: {lane: quick}}
    strategy: {kind: single, model: medium}
default:
  name: slow
  strategy: {kind: single, model: small}
"""
# Limit 16 (free: 8 slots), never below 8: four enterprise callers always fit beside
# the free tier's share, so any enterprise refusal would be a wrong shedding order.
ROUTER_ARGS = (
    "--verifier-mode",
    "embedded",
    "--concurrency-limit-min",
    "8",
    "--concurrency-limit-max",
    "16",
    "--concurrency-limit-initial",
    "16",
    "--concurrency-window-ms",
    "250",
)
PROMPT = "Explain how a B-tree keeps itself balanced."
# Generous: the model takes 0.3 s; an admitted call queued behind an unbounded backlog
# would take far longer on this shared machine.
ADMITTED_LATENCY_BOUND_S = 5.0

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Suited:
    suite: Suite
    metrics_url: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Suited]:
    state = Path(tmp_path_factory.mktemp("overload"))
    metrics_port = free_port_run(1)
    settings = suite_settings(
        state,
        simulator=SIMULATOR,
        policy=POLICY,
        router_args=ROUTER_ARGS,
        router_metrics_ports=(metrics_port,),
    )
    async with Suite(settings) as suite:
        yield Suited(suite, f"http://127.0.0.1:{metrics_port}/metrics")


def request(**fields: object) -> router_pb2.RouteRequest:
    return router_pb2.RouteRequest(
        messages=[router_pb2.ChatMessage(role="user", content=PROMPT)], **fields
    )


def status_details(error: grpc.aio.AioRpcError) -> dict[str, object]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    found: dict[str, object] = {}
    for packed in status.details if status is not None else []:
        for kind in (
            error_details_pb2.RetryInfo,
            error_details_pb2.QuotaFailure,
            error_details_pb2.ErrorInfo,
        ):
            if packed.Is(kind.DESCRIPTOR):
                message = kind()
                packed.Unpack(message)
                found[kind.__name__] = message
    return found


def retry_delay_s(found: dict[str, object]) -> float:
    delay = found["RetryInfo"].retry_delay  # type: ignore[attr-defined]
    return delay.seconds + delay.nanos / 1e9


@dataclass
class Tally:
    answered: list[float] = field(default_factory=list)  # latency of each, seconds
    shed: list[dict[str, object]] = field(default_factory=list)
    other: list[str] = field(default_factory=list)


async def closed_loop(
    stub: router_pb2_grpc.RouterServiceStub,
    message: router_pb2.RouteRequest,
    until: float,
    tally: Tally,
    *,
    back_off_s: float,
) -> None:
    """One caller: the next call as soon as the last one ended (after a short back-off
    when shed) until `until`."""
    while time.monotonic() < until:
        sent = time.monotonic()
        try:
            await stub.Route(message, timeout=10)
            tally.answered.append(time.monotonic() - sent)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.RESOURCE_EXHAUSTED:
                tally.other.append(f"{exc.code().name}: {exc.details()}")
                continue
            tally.shed.append(status_details(exc))
            await asyncio.sleep(back_off_s)


async def metrics(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as reply:
            text = await reply.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def model_requests(suite: Suite, model: str) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{suite.simulator_url}/admin/models/{model}") as reply:
            return int((await reply.json())["counters"].get("requests", 0))


def shed_count(m: dict, tier: str, reason: str) -> float:
    return m.get(("switchyard_router_shed_total", (("reason", reason), ("tier", tier))), 0.0)


async def test_free_flood_is_shed_while_enterprise_is_served(running: Suited) -> None:
    """24 free callers and 4 enterprise callers for 4 s against a limit of 16: free
    calls are shed (RESOURCE_EXHAUSTED, OVERLOADED, RetryInfo) and no enterprise call
    is; every admitted call answers within the bound; shed calls reach no model; the
    router's metrics count the sheds by tier and show the limit and in-flight gauges."""
    suite = running.suite
    before_calls = await model_requests(suite, "small")
    before = await metrics(running.metrics_url)
    channels = [grpc.aio.insecure_channel(suite.address("router")) for _ in range(4)]
    try:
        stubs = [router_pb2_grpc.RouterServiceStub(c) for c in channels]
        free, enterprise = Tally(), Tally()
        until = time.monotonic() + 4.0
        await asyncio.gather(
            *(
                closed_loop(
                    stubs[i % 4],
                    request(tenant=f"f{i}", tier="free"),
                    until,
                    free,
                    back_off_s=0.1,
                )
                for i in range(24)
            ),
            *(
                closed_loop(
                    stubs[i],
                    request(tenant=f"e{i}", tier="enterprise"),
                    until,
                    enterprise,
                    back_off_s=0.1,
                )
                for i in range(4)
            ),
        )
    finally:
        for channel in channels:
            await channel.close()
    after = await metrics(running.metrics_url)
    assert not free.other and not enterprise.other, (free.other, enterprise.other)
    assert free.answered and free.shed, "the free tier was neither served nor shed"
    assert len(free.shed) > len(free.answered) / 2, (len(free.shed), len(free.answered))
    assert enterprise.shed == [], [s.get("ErrorInfo") for s in enterprise.shed]
    assert len(enterprise.answered) >= 4
    for found in free.shed:
        assert found["ErrorInfo"].reason == "OVERLOADED"  # type: ignore[attr-defined]
        assert found["ErrorInfo"].metadata["tier"] == "free"  # type: ignore[attr-defined]
        assert 0.1 <= retry_delay_s(found) <= 10.0
    latencies = free.answered + enterprise.answered
    assert max(latencies) <= ADMITTED_LATENCY_BOUND_S, sorted(latencies)[-5:]
    # Shed calls did no work: the model saw exactly the answered calls.
    assert await model_requests(suite, "small") - before_calls == len(latencies)
    assert shed_count(after, "free", "concurrency") - shed_count(
        before, "free", "concurrency"
    ) == len(free.shed)
    assert shed_count(after, "enterprise", "concurrency") == shed_count(
        before, "enterprise", "concurrency"
    )
    assert 8 <= after[("switchyard_router_concurrency_limit", ())] <= 16
    assert after[("switchyard_router_in_flight", ())] == 0


async def test_a_tenant_over_its_rate_is_refused_and_another_is_not(running: Suited) -> None:
    """noisy (1 request/s, burst 3) sends 8 calls back to back: its burst is answered,
    the rest are RESOURCE_EXHAUSTED (RATE_LIMITED, QuotaFailure naming it, RetryInfo);
    quiet's 8 calls interleaved with them are all answered; after the retry delay noisy
    is served again."""
    suite = running.suite
    async with grpc.aio.insecure_channel(suite.address("router")) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        meta = {"lane": "quick"}
        noisy_ok, noisy_refused, quiet_ok = 0, [], 0
        started = time.monotonic()
        for _ in range(8):
            try:
                await stub.Route(request(tenant="noisy", tier="enterprise", metadata=meta))
                noisy_ok += 1
            except grpc.aio.AioRpcError as exc:
                assert exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, exc
                noisy_refused.append(status_details(exc))
            reply = await stub.Route(request(tenant="quiet", tier="enterprise", metadata=meta))
            quiet_ok += bool(reply.answer)
        elapsed = time.monotonic() - started
        assert quiet_ok == 8
        assert 3 <= noisy_ok <= 3 + elapsed * 1.0 + 1e-9
        assert noisy_refused
        found = noisy_refused[-1]
        assert found["ErrorInfo"].reason == "RATE_LIMITED"  # type: ignore[attr-defined]
        violation = found["QuotaFailure"].violations[0]  # type: ignore[attr-defined]
        assert violation.subject == "tenant:noisy"
        assert "1 requests/s (burst 3)" in violation.description
        wait = retry_delay_s(found)
        assert 0.0 < wait <= 1.0
        await asyncio.sleep(wait + 0.05)
        reply = await stub.Route(request(tenant="noisy", tier="enterprise", metadata=meta))
        assert reply.answer


async def test_the_limit_comes_down_when_the_model_slows(running: Suited) -> None:
    """With 12 enterprise callers busy, the model slowed from 0.3 s to 1.8 s: the
    router's concurrency limit (its /metrics gauge) falls below where it was."""
    suite = running.suite
    start_limit = (await metrics(running.metrics_url))[("switchyard_router_concurrency_limit", ())]
    async with aiohttp.ClientSession() as session:
        async with session.put(
            f"{suite.simulator_url}/admin/models/small/faults", json={"added_latency_ms": 1500}
        ) as reply:
            assert reply.status == 200, await reply.text()
    try:
        async with grpc.aio.insecure_channel(suite.address("router")) as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)
            tally = Tally()
            lowest = start_limit
            until = time.monotonic() + 12.0

            async def watch() -> None:
                nonlocal lowest
                while time.monotonic() < until and lowest >= start_limit - 1:
                    await asyncio.sleep(0.5)
                    m = await metrics(running.metrics_url)
                    lowest = min(lowest, m[("switchyard_router_concurrency_limit", ())])

            callers = [
                asyncio.create_task(
                    closed_loop(
                        stub,
                        request(tenant=f"s{i}", tier="enterprise"),
                        until,
                        tally,
                        back_off_s=0.2,
                    )
                )
                for i in range(12)
            ]
            await watch()
            for task in callers:
                task.cancel()
            await asyncio.gather(*callers, return_exceptions=True)
    finally:
        async with aiohttp.ClientSession() as session:
            async with session.delete(f"{suite.simulator_url}/admin/models/small/faults"):
                pass
    assert not tally.other, tally.other
    assert lowest < start_limit - 1, (start_limit, lowest)
