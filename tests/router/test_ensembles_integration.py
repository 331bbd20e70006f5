"""parallel, vote and hedge through a real router gRPC server and the simulator over real
HTTP: the losing calls are cancelled and the simulator sees them end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest

from services.router.app import RouterApp, build_router
from services.router.state import RouterState
from services.router.testing import snapshot
from services.simulator.replay import load_replay
from services.simulator.testing import RunningSimulator, running_simulator
from switchyard.fleet import parse_fleet
from switchyard.learning.dataset import DatasetRecord, Message, ModelAnswer, write_dataset
from switchyard.registry.v1 import registry_pb2
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import RunningServer, start_server

SLOW_MS = 4000  # a model that only ends by being cancelled within these tests
CLASSIFY = "Classify the sentiment of this review: 'I love it, works perfectly.'"
QUESTION = "Explain how database indexes speed up queries."
SIM_MODELS: dict[str, dict[str, Any]] = {
    "fast": {"ttft_ms": 10, "quality": 1.0, "answer_tokens": 40},
    "good": {"ttft_ms": 10, "quality": 1.0, "answer_tokens": 40},
    "poor": {"ttft_ms": 10, "quality": 0.0, "answer_tokens": 40},
    "slow1": {"ttft_ms": SLOW_MS, "quality": 1.0, "answer_tokens": 40},
    "slow2": {"ttft_ms": SLOW_MS, "quality": 1.0, "answer_tokens": 40},
    # Replaying recorded labels (votes.jsonl): two agree, one (slow) dissents.
    "voter1": {"ttft_ms": 10, "replay": {"votes": "m1"}},
    "voter2": {"ttft_ms": 40, "replay": {"votes": "m2"}},
    "voter3": {"ttft_ms": SLOW_MS, "replay": {"votes": "m3"}},
}
FLEET = "\n".join(
    f"""- id: {name}
  provider: {{kind: simulator, endpoint: "${{SIM}}", upstream_model: {name}}}
  pricing: {{input_per_mtok_micros: 100000, output_per_mtok_micros: 400000}}
  context_window: 16384
  max_output_tokens: 1024
  latency: {{total_p50_ms: 20}}"""
    for name in SIM_MODELS
)
POLICY = """
name: ensembles
max_deadline_ms: 8000
budget_micros: 1000000
retry: {max_retries: 0}
checks: [{name: non_empty}, {name: length, params: {min_chars: 20}}]
rules:
  - name: first-good-enough
    when: {metadata: {case: early}}
    strategy: {kind: parallel, models: [fast, slow1, slow2], accept_score: 0.01}
  - name: all-slow
    when: {metadata: {case: slow}}
    strategy: {kind: parallel, models: [slow1, slow2]}
  - name: rank-all
    when: {metadata: {case: rank}}
    strategy: {kind: parallel, models: [poor, good, fast]}
  - name: sentiment
    when: {task_types: [classification]}
    checks: [{name: non_empty}]
    strategy: {kind: vote, models: [voter1, voter2, voter3]}
  - name: hedged
    when: {metadata: {case: hedge}}
    strategy:
      kind: hedge
      models: [slow1, fast]
      delay_ms: 50
      cap: {share: 1.0, micros: 100000}
default: {name: one, strategy: {kind: single, model: fast}}
"""
CANCELLED = router_pb2.ATTEMPT_OUTCOME_CANCELLED
OK = router_pb2.ATTEMPT_OUTCOME_OK


def votes_dataset(path: Path) -> Path:
    labels = {"m1": "Positive", "m2": "positive.", "m3": "Negative"}
    write_dataset(
        path,
        [
            DatasetRecord(
                id="v1",
                messages=(Message("user", CLASSIFY),),
                task_type="classification",
                answers={
                    m: ModelAnswer(quality=1.0, input_tokens=20, output_tokens=2, answer=text)
                    for m, text in labels.items()
                },
            )
        ],
    )
    return path


@dataclass
class Suite:
    sim: RunningSimulator
    app: RouterApp
    server: RunningServer
    stub: router_pb2_grpc.RouterServiceStub


@pytest.fixture
async def suite(tmp_path: Path) -> AsyncIterator[Suite]:
    replay = load_replay([str(votes_dataset(tmp_path / "votes.jsonl"))], tmp_path)
    async with running_simulator(SIM_MODELS, seed=5, replay=replay) as sim:
        state = RouterState(str(tmp_path))
        models = parse_fleet(FLEET, environ={"SIM": sim.base_url})
        state.apply_fleet_snapshot(registry_pb2.FleetSnapshot(models=models, revision=1))
        state.apply_snapshot(snapshot(POLICY))
        app = build_router(state=state, environ={}, review_dir=str(tmp_path))
        server = await start_server(
            name="router", config=ServerConfig(port=0), register=app.register
        )
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                yield Suite(sim, app, server, router_pb2_grpc.RouterServiceStub(channel))
        finally:
            await server.stop(0.5)
            await app.close()


def ask(text: str = QUESTION, **kw: Any) -> router_pb2.RouteRequest:
    return router_pb2.RouteRequest(
        messages=[router_pb2.ChatMessage(role="user", content=text)], max_output_tokens=200, **kw
    )


async def admin_counters(sim: RunningSimulator, model: str) -> dict[str, int]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{sim.url}/admin/models/{model}") as reply:
            return (await reply.json())["counters"]


async def wait_cancelled(sim: RunningSimulator, *models: str) -> None:
    """Until the simulator's admin API shows each model's call cancelled and none in
    flight (the router closed the connection; the simulator's handler stopped)."""
    for _ in range(200):
        counters = [await admin_counters(sim, m) for m in models]
        if all(c.get("cancelled") == 1 and c.get("in_flight") == 0 for c in counters):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(
        f"not cancelled at the simulator: {dict(zip(models, counters, strict=True))}"
    )


async def test_parallel_cancels_the_rest_once_an_answer_is_good_enough(suite: Suite) -> None:
    """fast answers above accept_score well before the slow members: the response comes
    back at once, lists the slow members as CANCELLED at no cost, and the simulator sees
    both of their calls end cancelled."""
    reply = await suite.stub.Route(ask(metadata={"case": "early"}), timeout=6)
    assert reply.model_id == "fast" and reply.strategy == "parallel"
    assert reply.total_latency_ms < SLOW_MS / 2
    outcomes = {a.model_id: a.outcome for a in reply.attempts}
    assert outcomes == {"fast": OK, "slow1": CANCELLED, "slow2": CANCELLED}
    assert all(a.cost_micros == 0 for a in reply.attempts if a.outcome == CANCELLED)
    assert reply.total_cost_micros == sum(a.cost_micros for a in reply.attempts) > 0
    await wait_cancelled(suite.sim, "slow1", "slow2")


async def test_parallel_returns_the_top_ranked_accepted_answer(suite: Suite) -> None:
    """All three members answer; the low-effort reply is rejected and the answer returned
    is the accepted one with the highest verifier score, every member listed with its
    score and cost."""
    reply = await suite.stub.Route(ask(metadata={"case": "rank"}), timeout=6)
    assert len(reply.attempts) == 3 and all(a.outcome == OK for a in reply.attempts)
    verdicts = {a.model_id: a.verdict for a in reply.attempts}
    assert verdicts["poor"] == router_pb2.ATTEMPT_VERDICT_REJECT
    accepted = [a for a in reply.attempts if a.verdict == router_pb2.ATTEMPT_VERDICT_ACCEPT]
    best = max(accepted, key=lambda a: a.verifier_score)
    assert reply.model_id == best.model_id
    assert all(0.0 < a.verifier_score < 1.0 for a in accepted)  # the scorer's, not 1/0
    assert all(a.cost_micros > 0 for a in reply.attempts)


async def test_vote_picks_the_majority_and_stops_early(suite: Suite) -> None:
    """Recorded labels "Positive" and "positive." agree; the dissenting slow voter cannot
    change a 2-0 lead, so its call is cancelled (the simulator sees it end)."""
    reply = await suite.stub.Route(ask(CLASSIFY, task_type="classification"), timeout=6)
    assert reply.strategy == "vote" and reply.answer.casefold().startswith("positive")
    assert reply.agreement == 1.0 and not reply.degraded
    assert reply.total_latency_ms < SLOW_MS / 2
    assert {a.model_id: a.outcome for a in reply.attempts}["voter3"] == CANCELLED
    await wait_cancelled(suite.sim, "voter3")


async def test_hedge_sends_the_next_model_and_cancels_the_slow_one(suite: Suite) -> None:
    """slow1 has not answered after 50 ms: fast is sent the request too, wins, and
    slow1's call is cancelled at the simulator."""
    reply = await suite.stub.Route(ask(metadata={"case": "hedge"}), timeout=6)
    assert reply.hedged and reply.model_id == "fast" and reply.strategy == "hedge"
    assert reply.total_latency_ms < SLOW_MS / 2
    assert {a.model_id: a.outcome for a in reply.attempts} == {"slow1": CANCELLED, "fast": OK}
    await wait_cancelled(suite.sim, "slow1")


async def test_client_deadline_on_a_parallel_route_ends_every_upstream_call(
    suite: Suite,
) -> None:
    """The client gives up (its deadline) while both slow members are in flight: the
    router cancels them, and the simulator sees both calls end cancelled rather than
    run on for seconds."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await suite.stub.Route(ask(metadata={"case": "slow"}), timeout=0.3)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await wait_cancelled(suite.sim, "slow1", "slow2")
