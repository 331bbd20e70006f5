"""Planning (services/router/planning.py): which stages are kept, why the others are
dropped, and the cascade's expected cost and latency, with exact numbers."""

from __future__ import annotations

import pytest

from services.router.breakers import BreakerState
from services.router.fleet import FleetView, ModelProfile
from services.router.planning import (
    DEFAULT_ACCEPT_PROBABILITY,
    DEFAULT_LATENCY_MS,
    Candidate,
    DropReason,
    RouteInput,
    output_tokens_for,
    plan_route,
)
from services.router.providers.base import ChatTurn
from switchyard.policy import parse_policy
from tests.router.fakes import profile

POLICY = parse_policy(
    """
name: planning
slo_ms: 600
budget_micros: 100000
rules:
  - name: only-a
    when: {tiers: [pro]}
    strategy: {kind: single, model: a}
default:
  name: abc
  strategy: {kind: cascade, stages: [{model: a}, {model: b}, {model: c}]}
"""
)
# 1000 prompt tokens + 500 output tokens at `price` µUSD per Mtok: a 3000, b 15000, c 60000.
PROMPT_TOKENS = 1000
OUTPUT_TOKENS = 500
A = profile("a", 2_000_000, latency_p50_ms=200, quality={"chat": 0.6, "math": 0.1})
B = profile("b", 10_000_000, latency_p50_ms=500)  # no measured quality: 0.8 assumed
C = profile("c", 40_000_000, latency_p50_ms=0, quality={"chat": 0.5})  # no p50: 1000 ms
CLOSED = {"a": BreakerState.CLOSED, "b": BreakerState.CLOSED, "c": BreakerState.CLOSED}


def request(**fields: object) -> RouteInput:
    base: dict[str, object] = {
        "messages": (ChatTurn("user", "q"),),
        "task_type": "chat",
        "max_output_tokens": OUTPUT_TOKENS,
        "prompt_tokens": PROMPT_TOKENS,
    }
    return RouteInput(**{**base, **fields})  # type: ignore[arg-type]


def plan(
    *profiles: ModelProfile,
    req: RouteInput | None = None,
    breakers: dict[str, BreakerState] | None = None,
    remaining_ms: float = 10_000,
):
    states = {**CLOSED, **(breakers or {})}
    return plan_route(
        policy=POLICY,
        request=req or request(),
        fleet=FleetView(profiles or (A, B, C)),
        breaker_state=lambda model: states[model],
        remaining_ms=remaining_ms,
    )


def only(*profiles: ModelProfile, **kw: object):
    """The plan's first candidate, for a fleet holding the given profiles."""
    return plan(*profiles, **kw).candidates[0]  # type: ignore[arg-type]


def test_all_eligible_candidates_are_kept_in_stage_order() -> None:
    """With every model healthy, affordable and fast enough, each stage is kept, in order,
    with its worst-case cost, p50 latency and acceptance probability."""
    result = plan()
    assert [(c.stage_index, c.model_id, c.kept, c.reason) for c in result.candidates] == [
        (0, "a", True, "eligible"),
        (1, "b", True, "eligible"),
        (2, "c", True, "eligible"),
    ]
    assert [c.max_cost_micros for c in result.candidates] == [3000, 15000, 60000]
    assert [c.expected_latency_ms for c in result.candidates] == [200, 500, DEFAULT_LATENCY_MS]
    assert [c.accept_probability for c in result.candidates] == [0.6, 0.8, 0.5]
    assert [c.drop for c in result.candidates] == [DropReason.NONE] * 3
    assert result.chain == result.candidates


def test_cascade_expected_cost_weights_each_stage_by_the_chance_of_reaching_it() -> None:
    """expected = c_a + P(a rejects)·c_b + P(a and b reject)·c_c
    = 3000 + 0.4·15000 + 0.4·0.2·60000 = 13800 µUSD; latency likewise
    200 + 0.4·500 + 0.08·1000 = 480 ms."""
    result = plan()
    assert DEFAULT_ACCEPT_PROBABILITY == 0.8
    assert result.expected_cost_micros == 13800
    assert result.expected_latency_ms == 480


def test_dropped_stage_adds_no_cost_and_does_not_change_the_reach() -> None:
    """A dropped middle stage is skipped in the expectation: 3000 + 0.4·60000 = 27000 µUSD,
    200 + 0.4·1000 = 600 ms."""
    result = plan(A, profile("b", 10_000_000, health="down"), C)
    assert [c.kept for c in result.candidates] == [True, False, True]
    assert [c.model_id for c in result.chain] == ["a", "c"]
    assert result.expected_cost_micros == 27000
    assert result.expected_latency_ms == 600


def test_expected_cost_is_rounded_to_the_nearest_micro_usd() -> None:
    """Fractional expectations round to nearest: 3000 + 0.4·15002 = 9000.8 → 9001."""
    b = profile("b", 10_001_333, latency_p50_ms=500)  # 1500 tokens → 15002 µUSD (rounded up)
    result = plan(A, b, profile("c", 40_000_000, health="down"))
    assert result.candidates[1].max_cost_micros == 15002
    assert result.expected_cost_micros == 9001


def test_quality_for_the_request_task_type_is_the_acceptance_probability() -> None:
    """The registry's quality for the request's own task type is used, not another's."""
    result = plan(req=request(task_type="math"))
    assert result.candidates[0].accept_probability == 0.1
    assert result.expected_cost_micros == round(3000 + 0.9 * 15000 + 0.9 * 0.2 * 60000)


@pytest.mark.parametrize("health", ["unknown", "serving", "degraded"])
def test_health_other_than_down_stays_eligible(health: str) -> None:
    """UNKNOWN, SERVING and DEGRADED models stay in the chain."""
    assert only(profile("a", 1, health=health)).kept


def test_health_down_is_dropped() -> None:
    """A model the registry reports DOWN is dropped with reason HEALTH."""
    candidate = only(profile("a", 1, health="down"))
    assert not candidate.kept
    assert candidate.drop is DropReason.HEALTH and candidate.reason == "health DOWN"


def test_unknown_model_is_dropped() -> None:
    """A stage naming a model the fleet copy does not hold is dropped, without a profile."""
    result = plan(B, C)
    first = result.candidates[0]
    assert not first.kept and first.drop is DropReason.UNKNOWN_MODEL and first.profile is None
    assert first.reason == "not in the registry"


def test_context_window_exactly_full_is_kept() -> None:
    """Prompt + output tokens equal to the context window fit."""
    assert only(profile("a", 1, context_window=PROMPT_TOKENS + OUTPUT_TOKENS)).kept


def test_context_window_one_token_short_is_dropped() -> None:
    """Prompt + output one token over the window: dropped with reason CONTEXT."""
    candidate = only(profile("a", 1, context_window=PROMPT_TOKENS + OUTPUT_TOKENS - 1))
    assert not candidate.kept and candidate.drop is DropReason.CONTEXT
    assert candidate.reason == "context window 1499 < prompt 1000 + output 500 tokens"


def test_context_window_counts_the_model_capped_output() -> None:
    """The output side is the model's cap when it is below the request's max_output_tokens."""
    capped = profile("a", 1, context_window=1200, max_output_tokens=200)
    assert only(capped).kept
    assert not only(profile("a", 1, context_window=1199, max_output_tokens=200)).kept


def test_unknown_context_window_is_unlimited() -> None:
    """A context window of 0 (not reported) never drops a model."""
    assert only(profile("a", 1, context_window=0), req=request(prompt_tokens=10**7)).kept


def test_json_mode_request_drops_models_without_json_mode() -> None:
    """A JSON-mode request keeps a model with the json_mode capability and drops one
    without it (reason CAPABILITY)."""
    req = request(json_mode=True)
    assert only(profile("a", 1, capabilities=frozenset({"json_mode"})), req=req).kept
    candidate = only(profile("a", 1, capabilities=frozenset({"tools"})), req=req)
    assert not candidate.kept and candidate.drop is DropReason.CAPABILITY
    assert candidate.reason == "no JSON mode"


def test_plain_request_ignores_json_mode_capability() -> None:
    """Without json_mode, a model lacking the capability stays eligible."""
    assert only(profile("a", 1)).kept


@pytest.mark.parametrize("state", [BreakerState.OPEN, BreakerState.FORCED_OPEN])
def test_open_breaker_is_dropped(state: BreakerState) -> None:
    """An OPEN or FORCED_OPEN breaker drops the model with reason BREAKER (another model
    is eligible, so this is not panic mode)."""
    candidate = plan(A, B, breakers={"a": state}).candidates[0]
    assert not candidate.kept and candidate.drop is DropReason.BREAKER
    assert candidate.reason == f"breaker {state.value}"


@pytest.mark.parametrize(
    "state", [BreakerState.CLOSED, BreakerState.HALF_OPEN, BreakerState.FORCED_CLOSED]
)
def test_admitting_breaker_states_are_kept(state: BreakerState) -> None:
    """CLOSED, HALF_OPEN (probes) and FORCED_CLOSED keep the model."""
    assert only(A, breakers={"a": state}).kept


def test_budget_equal_to_the_worst_case_is_kept() -> None:
    """A budget exactly the worst-case cost affords the stage."""
    assert only(A, req=request(budget_micros=3000)).kept


def test_budget_below_the_worst_case_is_dropped() -> None:
    """One µUSD short of the worst case: dropped with reason BUDGET."""
    candidate = only(A, req=request(budget_micros=2999))
    assert not candidate.kept and candidate.drop is DropReason.BUDGET
    assert candidate.reason == "worst-case cost 3000 µUSD exceeds budget 2999"


def test_request_without_budget_uses_the_policy_budget() -> None:
    """budget_micros 0 means the policy's budget; a request's own budget wins."""
    assert plan().budget_micros == 100_000
    assert plan(req=request(budget_micros=7)).budget_micros == 7


def test_worst_case_cost_prices_prompt_and_output_separately() -> None:
    """Worst case = prompt tokens at the input price + output tokens at the output price."""
    model = ModelProfile(
        model_id="a",
        provider_kind="simulator",
        endpoint="http://sim",
        upstream_model="a",
        credential_env="",
        input_micros_per_mtok=1_000_000,
        output_micros_per_mtok=3_000_000,
        context_window=0,
        max_output_tokens=1000,
    )
    assert only(model).max_cost_micros == 1000 * 1 + 500 * 3


def test_p50_latency_equal_to_the_time_left_is_kept() -> None:
    """A model whose p50 latency equals the remaining time is kept."""
    assert only(A, remaining_ms=200).kept


def test_p50_latency_over_the_time_left_is_dropped() -> None:
    """A p50 latency above the remaining time: dropped with reason DEADLINE."""
    candidate = only(A, remaining_ms=199.5)
    assert not candidate.kept and candidate.drop is DropReason.DEADLINE
    assert candidate.reason == "p50 latency 200 ms exceeds the remaining 199 ms"


def test_unmeasured_latency_assumes_the_default() -> None:
    """Without a measured p50 the planner assumes 1000 ms against the deadline."""
    unmeasured = profile("a", 1, latency_p50_ms=0)
    assert only(unmeasured, remaining_ms=DEFAULT_LATENCY_MS).kept
    assert not only(unmeasured, remaining_ms=DEFAULT_LATENCY_MS - 1).kept


def test_first_failing_filter_names_the_reason() -> None:
    """Filters apply in order: health, context, JSON mode, budget, deadline, breaker (last,
    so panic mode only ever admits a model that passes everything else)."""
    everything_wrong = profile("a", 10**9, health="down", context_window=1, latency_p50_ms=10**6)
    req = request(json_mode=True, budget_micros=1)
    opened = {"a": BreakerState.OPEN}
    json_ok = frozenset({"json_mode"})
    drops = [
        only(everything_wrong, req=req, breakers=opened, remaining_ms=1).drop,
        only(
            profile("a", 10**9, context_window=1, latency_p50_ms=10**6),
            req=req,
            breakers=opened,
            remaining_ms=1,
        ).drop,
        only(profile("a", 10**9, latency_p50_ms=10**6), req=req, breakers=opened).drop,
        only(
            profile("a", 10**9, latency_p50_ms=10**6, capabilities=json_ok),
            req=req,
            breakers=opened,
            remaining_ms=1,
        ).drop,
        only(
            profile("a", 1, latency_p50_ms=10**6, capabilities=json_ok),
            req=request(json_mode=True),
            breakers=opened,
            remaining_ms=1,
        ).drop,
        plan(
            profile("a", 1, capabilities=json_ok),
            profile("b", 1, capabilities=json_ok),
            req=request(json_mode=True),
            breakers=opened,
        )
        .candidates[0]
        .drop,
    ]
    assert drops == [
        DropReason.HEALTH,
        DropReason.CONTEXT,
        DropReason.CAPABILITY,
        DropReason.BUDGET,
        DropReason.DEADLINE,
        DropReason.BREAKER,
    ]


def test_the_matched_rule_supplies_the_stages() -> None:
    """The first rule whose conditions hold picks the strategy; otherwise the default."""
    assert plan(req=request(tier="pro")).rule.name == "only-a"
    assert [c.model_id for c in plan(req=request(tier="pro")).candidates] == ["a"]
    assert plan(req=request(tier="free")).rule.name == "abc"


def test_slo_is_the_request_target_else_the_policy_target() -> None:
    """slo_ms is the request's latency target when it sets one, else the policy's; the plan
    meets it when the expected latency is at most the target."""
    default = plan()
    assert default.slo_ms == 600 and default.expected_latency_ms == 480 and default.meets_slo
    exact = plan(req=request(latency_slo_ms=480))
    assert exact.slo_ms == 480 and exact.meets_slo
    tight = plan(req=request(latency_slo_ms=479))
    assert tight.slo_ms == 479 and not tight.meets_slo


@pytest.mark.parametrize(
    ("model_cap", "requested", "expected"),
    [(300, 500, 300), (800, 500, 500), (0, 500, 500), (300, 0, 300)],
)
def test_output_tokens_for(model_cap: int, requested: int, expected: int) -> None:
    """The output budget is the request's, capped by the model's; 0 on either side means
    the other side's."""
    assert output_tokens_for(profile("a", 1, max_output_tokens=model_cap), requested) == expected


def test_prompt_is_the_last_user_turn() -> None:
    """Verification judges against the last user turn, whatever follows it."""
    turns = (
        ChatTurn("system", "be brief"),
        ChatTurn("user", "first"),
        ChatTurn("assistant", "ok"),
        ChatTurn("user", "second"),
        ChatTurn("assistant", "draft"),
    )
    assert RouteInput(messages=turns).prompt == "second"
    assert RouteInput(messages=(ChatTurn("system", "only"),)).prompt == "only"
    assert RouteInput(messages=()).prompt == ""


def test_facts_carry_what_rules_match_on() -> None:
    """RequestFacts hold the task type, tier, prompt tokens, metadata and feature flags."""
    req = request(
        tier="pro", metadata={"region": "eu"}, feature_flags=frozenset({"beta"}), prompt_tokens=42
    )
    facts = req.facts
    assert (facts.task_type, facts.tier, facts.prompt_tokens) == ("chat", "pro", 42)
    assert facts.metadata == {"region": "eu"} and facts.feature_flags == {"beta"}


def test_dropped_candidates_keep_their_figures() -> None:
    """A dropped stage still reports its stage, model, profile, worst-case cost, latency and
    acceptance probability (Plan() shows them); an unknown model reports none."""
    down = profile("b", 10_000_000, latency_p50_ms=500, health="down")
    result = plan(profile("x", 1, health="down"), down, C)
    assert result.candidates[1] == Candidate(
        1, POLICY.default.strategy.stages[1], "b", False, "health DOWN", down, 15000, 500,
        DEFAULT_ACCEPT_PROBABILITY, DropReason.HEALTH, quality_source="default",
    )  # fmt: skip
    unknown = plan(B, C).candidates[0]
    assert unknown == Candidate(
        0, POLICY.default.strategy.stages[0], "a", False, "not in the registry",
        drop=DropReason.UNKNOWN_MODEL,
    )  # fmt: skip
    later_unknown = plan(A, C).candidates[1]
    assert (later_unknown.stage_index, later_unknown.model_id) == (1, "b")
    assert later_unknown.stage == POLICY.default.strategy.stages[1] and not later_unknown.kept


def test_candidate_evolve_names_an_unknown_field_and_takes_every_known_one() -> None:
    """Candidate.evolve is dataclasses.replace's contract: every field may change, an
    unknown name is a TypeError that names it."""
    import dataclasses

    candidate = plan(A, C).candidates[0]
    with pytest.raises(TypeError, match=r"^not Candidate fields: \['bogus', 'other'\]$"):
        candidate.evolve(bogus=1, other=2)
    every = {f.name: getattr(candidate, f.name) for f in dataclasses.fields(candidate)}
    every["model_id"] = "large"
    copy = candidate.evolve(**every)
    assert copy == dataclasses.replace(candidate, model_id="large") and copy is not candidate
