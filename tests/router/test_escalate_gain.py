"""`escalate_gain`: a cascade also escalates when the next stage's predicted quality beats
the answer's verifier score by more than the margin; refused where nothing escalates."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.router.breakers import BreakerState
from services.router.fleet import FleetView
from services.router.planning import RouteInput, plan_route
from services.router.providers.base import ChatTurn, Completion, CompletionRequest, Outcome
from services.router.selection import BoundPredictor
from services.router.verification import EmbeddedVerifier
from switchyard.checks import training
from switchyard.checks.features import FEATURE_NAMES
from switchyard.checks.scorer import LogisticModel
from switchyard.policy import PredictorRef, Stage, parse_policy
from switchyard.runtime.errors import InvalidArgument
from tests.router.fakes import profile, real_time_executor, route

GOOD = "A complete and useful answer that passes every check, and then some more."
SCORE = 0.6  # what the constant scorer below gives every answer
FLEET = FleetView(
    [
        profile("small", 100_000, quality={"chat": 0.7}),
        profile("large", 1_000_000, quality={"chat": 0.95}),
    ]
)
REQUEST = RouteInput(
    messages=(ChatTurn("user", "Explain what a B-tree is."),), task_type="chat", prompt_tokens=8
)
CASCADE = "{kind: cascade, stages: [{model: small}, {model: large}]}"


def _policy(strategy: str, extra: str = "") -> str:
    return f"""
name: gain
budget_micros: 100000
retry: {{max_retries: 0}}
checks: [{{name: non_empty}}]
default:
  name: r
  strategy: {strategy}
{extra}"""


class FixedPredictor:
    def __init__(self, table: dict[str, float]) -> None:
        self.table = table
        self.calls = 0

    def predict(self, prompt: str, task_type: str, models: Sequence[str]) -> dict[str, float]:
        self.calls += 1
        return {m: self.table[m] for m in models if m in self.table}


class Answering:
    def __init__(self, model: str, called: list[str]) -> None:
        self.model, self.called = model, called

    async def complete(self, request: CompletionRequest) -> Completion:
        self.called.append(self.model)
        return Completion(Outcome.OK, GOOD, "stop", 8, 20, 0.01)


def constant_scorer(score: float):  # type: ignore[no-untyped-def]
    bias = math.log(score / (1 - score))
    model = LogisticModel("general", (), bias, (0.0,) * len(FEATURE_NAMES), {})
    return training.build_scorer([model], default_model="general")


async def _route(source: str, predictor: FixedPredictor | None = None) -> list[str]:
    called: list[str] = []
    executor = real_time_executor(
        {m: Answering(m, called) for m in ("small", "large")},
        EmbeddedVerifier(constant_scorer(SCORE)),
    )
    result = await route(
        executor,
        parse_policy(source),
        FLEET,
        REQUEST,
        predictor=BoundPredictor(predictor, PredictorRef("a")) if predictor else None,
    )
    assert result.model_id == called[-1] and not result.degraded
    return called


def test_bar_for_hand_computed() -> None:
    """bar = max(min_score_for, min(1, q_next − margin)) before the last stage; the last
    stage and a rule without the margin keep min_score_for."""
    rule = parse_policy(_policy(CASCADE, "  min_score: 0.3\n  escalate_gain: 0.1")).default
    first, last = rule.strategy.stages
    assert rule.bar_for(first, last=False, next_quality=0.9) == pytest.approx(0.8)
    assert rule.bar_for(first, last=False, next_quality=0.35) == 0.3  # the score bar wins
    assert rule.bar_for(last, last=True, next_quality=None) == 0.0
    below = parse_policy(_policy(CASCADE, "  escalate_gain: -0.5")).default
    assert below.bar_for(first, last=False, next_quality=0.9) == 1.0  # capped at 1
    assert below.bar_for(Stage("small", min_score=0.2), last=False, next_quality=0.4) == (
        pytest.approx(0.9)
    )
    plain = parse_policy(_policy(CASCADE, "  min_score: 0.3")).default
    assert plain.bar_for(first, last=False, next_quality=0.99) == 0.3


@pytest.mark.parametrize(
    ("margin", "expected"),
    [(0.2, ["small", "large"]), (0.35, ["small"]), (0.4, ["small"])],
)
async def test_static_cascade_escalates_on_the_predicted_gain(
    margin: float, expected: list[str]
) -> None:
    """The predictor says large is acceptable with 0.95 and the answer scores 0.6: a gain
    of 0.35, escalated below that margin and kept at or above it."""
    predictor = FixedPredictor({"small": 0.7, "large": 0.95})
    called = await _route(_policy(CASCADE, f"  escalate_gain: {margin}"), predictor)
    assert called == expected
    assert predictor.calls == 1


async def test_without_a_predictor_the_registry_quality_stands_in() -> None:
    """No predictor: large's registry quality (0.95) is the next stage's figure."""
    assert await _route(_policy(CASCADE, "  escalate_gain: 0.2")) == ["small", "large"]
    assert await _route(_policy(CASCADE, "  escalate_gain: 0.5")) == ["small"]


async def test_a_cascade_without_the_margin_never_calls_the_predictor() -> None:
    predictor = FixedPredictor({"small": 0.7, "large": 0.95})
    assert await _route(_policy(CASCADE), predictor) == ["small"]
    assert predictor.calls == 0


@pytest.mark.parametrize(
    ("strategy", "extra", "field"),
    [
        (CASCADE, "  escalate_gain: 1.5", "default.escalate_gain"),
        (CASCADE, "  escalate_gain: yes", "default.escalate_gain"),
        ("{kind: single, model: small}", "  escalate_gain: 0.1", "default.escalate_gain"),
        (
            "{selector: score, models: [small, large], max_fallbacks: 0}",
            "  escalate_gain: 0.1",
            "default.escalate_gain",
        ),
        (
            "{kind: parallel, models: [small, large], fan_out: 2}",
            "  escalate_gain: 0.1",
            "default.escalate_gain",
        ),
    ],
)
def test_refused_with_a_field_violation(strategy: str, extra: str, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_policy(_policy(strategy, extra))
    assert field in {v.field for v in caught.value.violations}


@pytest.mark.parametrize(
    "strategy",
    [
        CASCADE,
        "{selector: auto, models: [small, large], min_quality: 0.8}",
        "{selector: score, models: [small, large], max_fallbacks: 1}",
    ],
)
def test_accepted_where_the_rule_escalates(strategy: str) -> None:
    assert parse_policy(_policy(strategy, "  escalate_gain: -0.2")).default.escalate_gain == -0.2


def test_score_bars_per_executor() -> None:
    """What each executor asks the verifier for: a cascade's bar_for, a hedge's
    min_score_for (the gain margin is a cascade's), every ensemble member the rule's."""
    predicted = {"small": 0.7, "large": 0.95}
    bars = {}
    for name, strategy, extra in (
        ("cascade", CASCADE, "  min_score: 0.3\n  escalate_gain: 0.1"),
        ("plain", CASCADE, "  min_score: 0.3"),
        ("parallel", "{kind: parallel, models: [small, large], fan_out: 2}", "  min_score: 0.3"),
    ):
        policy = parse_policy(_policy(strategy, extra))
        plan = plan_route(
            policy=policy,
            request=REQUEST,
            fleet=FLEET,
            breaker_state=lambda m: BreakerState.CLOSED,
            remaining_ms=10_000,
            predictor=BoundPredictor(FixedPredictor(predicted), PredictorRef("a")),
        )
        bars[name] = plan.score_bars()
    assert bars["cascade"] == {0: pytest.approx(0.85), 1: 0.0}
    assert bars["plain"] == {0: 0.3, 1: 0.0}
    assert bars["parallel"] == {0: 0.3, 1: 0.3}


@given(
    min_score=st.floats(0.0, 1.0),
    margin=st.floats(-1.0, 1.0),
    lower=st.floats(-1.0, 1.0),
    next_quality=st.floats(0.0, 1.0),
)
def test_bar_for_properties(
    min_score: float, margin: float, lower: float, next_quality: float
) -> None:
    """The margin only ever raises a bar, never above 1 nor on the last stage, and a
    lower margin never lowers it (it escalates at least as often)."""

    def rule(gain: float | None):  # type: ignore[no-untyped-def]
        # Fixed-point: PyYAML reads 1e-05 as a string.
        extra = f"  min_score: {min_score:.12f}"
        if gain is not None:
            extra += f"\n  escalate_gain: {gain:.12f}"
        return parse_policy(_policy(CASCADE, extra)).default

    first, last = rule(margin).strategy.stages
    plain = rule(None).bar_for(first, last=False, next_quality=next_quality)
    bar = rule(margin).bar_for(first, last=False, next_quality=next_quality)
    assert plain <= bar <= max(1.0, min_score)
    assert rule(margin).bar_for(last, last=True, next_quality=None) == 0.0
    low, high = sorted((lower, margin))
    assert rule(low).bar_for(first, last=False, next_quality=next_quality) >= rule(high).bar_for(
        first, last=False, next_quality=next_quality
    )
