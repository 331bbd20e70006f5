"""End to end: the five real processes, started by the same launcher as `make run`,
with its caller tokens (examples/tenants.yaml): every call sends the dev token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio

from switchyard.client import DEV_TENANT_TOKEN, ClientConfig, open_aio_channel
from switchyard.policy import parse_policy
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.errors import field_violations
from switchyard.suite import EXAMPLES, Suite, SuitePorts, SuiteSettings

STATIC_ANSWER = parse_policy((EXAMPLES / "policy.yaml").read_text()).degrade.static_answer
LONG_PROMPT = "Please consider the following planning notes carefully. " * 20 + "Summarise them."


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def suite(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Suite]:
    state = Path(tmp_path_factory.mktemp("suite"))
    async with Suite(
        SuiteSettings(
            state_dir=state,
            ports=SuitePorts.ephemeral(),
            tenant_tokens_file=EXAMPLES / "tenants.yaml",
        )
    ) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def router(suite: Suite) -> AsyncIterator[router_pb2_grpc.RouterServiceStub]:
    config = ClientConfig(address=suite.address("router"), token=DEV_TENANT_TOKEN, retry=None)
    async with open_aio_channel(config) as channel:
        yield router_pb2_grpc.RouterServiceStub(channel)


def route(text: str, **fields: object) -> router_pb2.RouteRequest:
    return router_pb2.RouteRequest(
        messages=[router_pb2.ChatMessage(role="user", content=text)], **fields
    )


pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_short_prompt_goes_to_the_small_model(router) -> None:
    """A short prompt matches the short-prompt rule and is answered by the small model,
    accepted, with an attempt trace, a cost and the published policy version. The small
    model is wrong a quarter of the time, so a request may come back as the policy's static
    answer, flagged degraded, with the rejection or failure in its trace; requests are
    repeated until one is answered (all eight degraded: p < 1e-4)."""
    replies = []
    for _ in range(8):
        replies.append(await router.Route(route("What is a database index?"), timeout=20))
        if not replies[-1].degraded:
            break
    for reply in replies:
        assert reply.rule == "short-prompt-small"
        assert reply.strategy == "single"
        assert reply.policy_version == 1
        assert reply.attempts, "the trace must show the attempts"
        assert all(a.model_id == "small" for a in reply.attempts)
        assert reply.total_cost_micros == sum(a.cost_micros for a in reply.attempts)
    *degraded, answered = replies
    assert not answered.degraded, "eight degraded replies in a row from a 75%-quality model"
    assert answered.model_id == "small"
    assert answered.attempts[-1].verdict == router_pb2.ATTEMPT_VERDICT_ACCEPT
    assert answered.answer and answered.answer != STATIC_ANSWER
    assert answered.total_cost_micros > 0
    for reply in degraded:
        assert reply.answer == STATIC_ANSWER and not reply.model_id
        last = reply.attempts[-1]
        assert (
            last.verdict == router_pb2.ATTEMPT_VERDICT_REJECT
            or last.outcome != router_pb2.ATTEMPT_OUTCOME_OK
        )


async def test_enterprise_tier_goes_to_the_large_model(router) -> None:
    """Tier enterprise picks the large model whatever the prompt length."""
    reply = await router.Route(route("Hi", tier="enterprise"), timeout=20)
    assert reply.rule == "enterprise-large"
    assert {a.model_id for a in reply.attempts} == {"large"}


async def test_long_prompts_cascade_and_escalate_on_rejection(router) -> None:
    """Long prompts take the small → large cascade; over many requests some small answers are
    rejected by the verifier's length check (the simulator's low-effort replies are under
    min_chars 20) and escalate to the large model, as the trace shows."""
    escalated = []
    for _ in range(40):
        reply = await router.Route(route(LONG_PROMPT, task_type="summarization"), timeout=20)
        assert reply.rule == "cascade-small-large"
        assert reply.strategy == "cascade"
        assert reply.attempts[0].model_id == "small"
        if reply.escalations:
            escalated.append(reply)
    assert escalated, "with a 75%-quality small model, some of 40 requests must escalate"
    rejections = []
    for reply in escalated:
        assert reply.attempts[-1].model_id == "large"
        small = [a for a in reply.attempts if a.model_id == "small"]
        rejected = [a for a in small if a.verdict == router_pb2.ATTEMPT_VERDICT_REJECT]
        failed = [a for a in small if a.outcome != router_pb2.ATTEMPT_OUTCOME_OK]
        assert rejected or failed
        rejections.extend(rejected)
        assert reply.total_cost_micros == sum(a.cost_micros for a in reply.attempts)
    assert rejections, "some escalations must come from a verifier rejection"
    assert all(a.detail.startswith("length: ") for a in rejections), [a.detail for a in rejections]


async def test_plan_explains_without_calling_models(router) -> None:
    """Plan() returns the rule, the chain and each candidate's expected cost."""
    plan = await router.Plan(router_pb2.PlanRequest(request=route(LONG_PROMPT)), timeout=10)
    assert plan.rule == "cascade-small-large"
    assert [c.model_id for c in plan.candidates] == ["small", "large"]
    assert all(c.kept and c.expected_cost_micros > 0 for c in plan.candidates)


async def test_bad_input_is_invalid_argument_with_field_violations(router) -> None:
    """No messages, an unknown task type and a negative budget each name their field."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await router.Route(
            router_pb2.RouteRequest(task_type="astrology", budget_micros=-5), timeout=10
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = {v.field for v in field_violations(info.value)}
    assert fields == {"messages", "task_type", "budget_micros"}


async def test_every_service_is_still_running(suite: Suite) -> None:
    """None of the five processes died while serving the tests above."""
    assert suite.dead_services() == []


async def test_plan_shows_the_auto_selectors_cascades(router) -> None:
    """Plan() for a long maths prompt (the reasoning-auto rule) lists every cascade the
    auto selector weighed with expected cost, latency and quality, exactly one chosen,
    and the plan's chain is the chosen cascade."""
    reply = await router.Plan(
        router_pb2.PlanRequest(request=route(LONG_PROMPT, task_type="math")), timeout=10
    )
    assert reply.rule == "reasoning-auto" and reply.selector == "auto"
    assert len(reply.cascades) >= 3
    chosen = [c for c in reply.cascades if c.chosen]
    assert len(chosen) == 1
    chain = [c.model_id for c in sorted(reply.candidates, key=lambda c: c.stage) if c.kept]
    assert list(chosen[0].model_ids) == chain
    assert reply.expected_cost_micros == chosen[0].expected_cost_micros > 0
    assert 0 < reply.expected_quality == pytest.approx(chosen[0].expected_quality)
    for cascade in reply.cascades:
        assert cascade.reason and cascade.expected_latency_ms > 0


async def test_score_rule_routes_and_reports_scores(router) -> None:
    """A long extraction prompt takes the structured-score rule; Plan() gives each
    candidate its score, highest first among the kept ones, and Route() answers."""
    request = route(LONG_PROMPT, task_type="extraction")
    plan = await router.Plan(router_pb2.PlanRequest(request=request), timeout=10)
    assert plan.rule == "structured-score" and plan.selector == "score"
    kept = sorted((c for c in plan.candidates if c.kept), key=lambda c: c.stage)
    assert len(kept) == 2 and kept[0].score >= kept[1].score
    assert all(c.quality_source == "registry" for c in plan.candidates)
    reply = await router.Route(request, timeout=20)
    assert reply.rule == "structured-score"
    assert reply.attempts[0].model_id == kept[0].model_id


async def test_the_router_process_logs_each_decision_and_takes_feedback(
    router, suite: Suite, capsys: pytest.CaptureFixture[str]
) -> None:
    """The launched router logs decisions to STATE/router/decisions.db by default; feedback
    over gRPC labels one, and `switchyard decisions show` finds it there while the router
    runs. A token's tenant may label only its own decisions."""
    from switchyard.cli.main import main

    reply = await router.Route(route("Explain what a decision log is for."), timeout=10)
    answer = await router.RecordFeedback(
        router_pb2.RecordFeedbackRequest(request_id=reply.request_id, label=0.9, source="e2e"),
        timeout=10,
    )
    assert answer.decisions == 1
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await router.RecordFeedback(
            router_pb2.RecordFeedbackRequest(request_id="not-a-request", label=0.5), timeout=10
        )
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    db = suite.settings.state_dir / "router" / "decisions.db"
    capsys.readouterr()
    assert main(["decisions", "show", reply.request_id, "--db", str(db)]) == 0
    shown = capsys.readouterr().out
    assert f"request {reply.request_id}" in shown and "label: 0.9 from e2e" in shown
    assert "tenant / tier / task: demo /" in shown
