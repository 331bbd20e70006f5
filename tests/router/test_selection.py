"""The score and auto selectors: exact formulas on hand-computed cases, the hard filters
first, determinism, the predictor fallback, and auto's choice against brute force."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.breakers import BreakerState
from services.router.estimates import OutcomeEstimates
from services.router.fleet import FleetView
from services.router.planning import BoundPredictor, DropReason, RouteInput, plan_route
from services.router.providers.base import ChatTurn
from services.router.selection import auto, quality
from services.router.selection.expectation import chain_figures
from services.router.selection.filters import latency_ms
from switchyard.policy import PredictorRef, parse_policy
from tests.router.fakes import profile

# 1,000 prompt tokens + 1,000 output tokens at `price` µUSD/Mtok each way: 2·price/1000 µUSD.
REQUEST = RouteInput(
    messages=(ChatTurn("user", "Explain B-trees."),),
    task_type="chat",
    max_output_tokens=1000,
    prompt_tokens=1000,
)


def _fleet(*specs: tuple[str, int, int, float]) -> FleetView:
    """(model, price, p95 ms, registry quality for chat)."""
    models = []
    for name, price, p95, q in specs:
        base = profile(name, price, context_window=100_000, latency_p50_ms=p95 // 2)
        models.append(dataclasses.replace(base, latency_p95_ms=p95, quality={"chat": q}))
    return FleetView(models)


FLEET = _fleet(
    ("small", 100_000, 400, 0.6),  # 200 µUSD, p95 400 ms
    ("medium", 500_000, 800, 0.75),  # 1,000 µUSD
    ("large", 2_000_000, 2000, 0.9),  # 4,000 µUSD
)


def _policy(strategy: str, *, budget: int = 100_000, slo: int = 4000) -> object:
    return parse_policy(
        f"""
name: t
slo_ms: {slo}
max_deadline_ms: 20000
budget_micros: {budget}
default:
  name: r
  strategy: {strategy}
"""
    )


def _plan(strategy: str, *, fleet: FleetView = FLEET, predictor=None, **kw):
    return plan_route(
        policy=_policy(strategy, **kw),  # type: ignore[arg-type]
        request=REQUEST,
        fleet=fleet,
        breaker_state=lambda m: BreakerState.CLOSED,
        remaining_ms=20_000,
        predictor=predictor,
    )


def test_score_ranks_by_its_formula_exactly() -> None:
    """score = w_q·q − w_c·cost/dearest − w_l·p95/SLO, computed by hand:
    small 1·0.6 − 0.5·200/4000 − 0.1·400/4000 = 0.565
    medium 0.75 − 0.5·0.25 − 0.1·0.2 = 0.605
    large 0.9 − 0.5·1 − 0.1·0.5 = 0.35"""
    plan = _plan("{selector: score, models: [small, medium, large], max_fallbacks: 1}")
    scores = {c.model_id: c.score for c in plan.candidates}
    assert scores["small"] == pytest.approx(0.565)
    assert scores["medium"] == pytest.approx(0.605)
    assert scores["large"] == pytest.approx(0.35)
    assert [c.model_id for c in plan.chain] == ["medium", "small"]
    [dropped] = [c for c in plan.candidates if not c.kept]
    assert dropped.model_id == "large" and dropped.drop is DropReason.NOT_CHOSEN
    assert plan.selector == "score"
    # The chain's expectation: 1000 + (1 − 0.75)·200 = 1050 µUSD.
    assert plan.expected_cost_micros == 1050


def test_score_weights_move_the_choice() -> None:
    """With cost weighted at zero, the best-quality model wins; weighted heavily, the
    cheapest does."""
    free = "{selector: score, models: [small, medium, large], weights: {cost: 0, latency: 0}}"
    dear = "{selector: score, models: [small, medium, large], weights: {cost: 5, latency: 0}}"
    assert _plan(free).chain[0].model_id == "large"
    assert _plan(dear).chain[0].model_id == "small"


def test_score_min_quality_takes_the_cheapest_model_that_reaches_it() -> None:
    """Threshold routing: the cheapest model with q >= 0.7 is medium; with 0.95 nobody
    reaches it, so the best q goes first and the plan says the floor was missed."""
    plan = _plan("{selector: score, models: [small, medium, large], min_quality: 0.7}")
    assert plan.chain[0].model_id == "medium" and plan.quality_floor_met
    plan = _plan("{selector: score, models: [small, medium, large], min_quality: 0.95}")
    assert plan.chain[0].model_id == "large" and not plan.quality_floor_met


def test_auto_picks_the_cheapest_cascade_meeting_the_floor() -> None:
    """Floor 0.85: singles small 0.6, medium 0.75 miss it, large 0.9 costs 4,000.
    small→medium: quality 1 − 0.4·0.25 = 0.9, cost 200 + 0.4·1000 = 600: the cheapest
    that qualifies (small→large: 0.96 at 200 + 0.4·4000 = 1,800)."""
    plan = _plan("{selector: auto, models: [small, medium, large], min_quality: 0.85}")
    assert [c.model_id for c in plan.chain] == ["small", "medium"]
    assert plan.expected_cost_micros == 600
    assert plan.expected_quality == pytest.approx(0.9)
    chosen = [o for o in plan.cascades if o.chosen]
    assert [o.model_ids for o in chosen] == [("small", "medium")]
    by_chain = {o.model_ids: o for o in plan.cascades}
    assert by_chain[("large",)].reason == "dearer than the chosen cascade"
    assert by_chain[("small",)].reason == "below the quality floor"


def test_auto_respects_the_slo_and_flags_a_missed_floor() -> None:
    """With a 500 ms SLO only small alone fits at p95 (400 ms; small→medium expects
    400 + 0.4·800 = 720 ms), and its 0.6 misses the 0.85 floor: nothing qualifies, so auto
    takes the highest expected quality within the budget (medium→large, 1 − 0.25·0.1 =
    0.975) and flags the plan."""
    plan = _plan("{selector: auto, models: [small, medium, large], min_quality: 0.85}", slo=500)
    assert not plan.quality_floor_met
    assert [c.model_id for c in plan.chain] == ["medium", "large"]
    assert plan.expected_quality == pytest.approx(0.975)
    [chosen] = [o for o in plan.cascades if o.chosen]
    assert chosen.reason == "chosen (best available: misses the SLO)"


def test_hard_filters_apply_before_selection() -> None:
    """A DOWN model or one over the budget is dropped with its reason, never chosen."""
    medium = FLEET.get("medium")
    assert medium is not None
    fleet = FleetView(
        [
            FLEET.get("small"),  # type: ignore[list-item]
            FLEET.get("large"),  # type: ignore[list-item]
            dataclasses.replace(medium, health="down"),
        ]
    )
    plan = _plan(
        "{selector: auto, models: [small, medium, large], min_quality: 0.85}",
        fleet=fleet,
        budget=3000,
    )
    drops = {c.model_id: c.drop for c in plan.candidates if not c.kept}
    assert drops["medium"] is DropReason.HEALTH
    assert drops["large"] is DropReason.BUDGET
    assert [c.model_id for c in plan.chain] == ["small"]


class FixedPredictor:
    def __init__(self, table: dict[str, float], *, fail: bool = False) -> None:
        self.table = table
        self.fail = fail
        self.calls = 0

    def predict(self, prompt: str, task_type: str, models: Sequence[str]) -> dict[str, float]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("broken artefact")
        return {m: self.table[m] for m in models if m in self.table}


def test_predictor_quality_replaces_registry_quality_through_the_mapping() -> None:
    """The predictor's figure (by artefact name) is used; a model it lacks keeps the
    registry's quality; the source is reported per candidate."""
    predictor = BoundPredictor(
        FixedPredictor({"mixtral": 0.95, "gpt-4": 0.99}),
        PredictorRef(artefact="a.json", models={"small": "mixtral", "large": "gpt-4"}),
    )
    plan = _plan(
        "{selector: score, models: [small, medium, large], min_quality: 0.9}",
        predictor=predictor,
    )
    by_id = {c.model_id: c for c in plan.candidates}
    assert by_id["small"].accept_probability == 0.95
    assert by_id["small"].quality_source == "predictor"
    assert by_id["medium"].quality_source == "registry"
    assert plan.chain[0].model_id == "small"


def test_predictor_failure_falls_back_to_registry_quality() -> None:
    """A predictor that raises is counted and the plan uses registry quality."""
    before = quality.FAILURES.count
    predictor = BoundPredictor(FixedPredictor({}, fail=True), PredictorRef(artefact="a.json"))
    plan = _plan(
        "{selector: score, models: [small, medium, large], min_quality: 0.7}",
        predictor=predictor,
    )
    assert quality.FAILURES.count == before + 1
    assert plan.chain[0].model_id == "medium"
    assert {c.quality_source for c in plan.candidates} == {"registry"}


def test_static_rules_never_call_the_predictor() -> None:
    """The predictor is only for score/auto rules; static plans pay nothing for it."""
    fixed = FixedPredictor({"small": 0.1})
    _plan("{kind: single, model: small}", predictor=BoundPredictor(fixed, PredictorRef("a")))
    assert fixed.calls == 0


def test_selectors_are_deterministic() -> None:
    """The same inputs give the same plan, field for field."""
    for strategy in (
        "{selector: score, models: [small, medium, large]}",
        "{selector: auto, models: [small, medium, large], min_quality: 0.8, max_depth: 3}",
    ):
        assert _plan(strategy) == _plan(strategy)


models_st = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=5_000_000),  # price
        st.integers(min_value=10, max_value=5000),  # p95
        st.floats(min_value=0.0, max_value=1.0),  # quality
    ),
    min_size=2,
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(
    specs=models_st,
    floor=st.floats(min_value=0.0, max_value=1.0).map(lambda f: round(f, 6)),
    budget=st.integers(min_value=1, max_value=20_000),
    slo=st.integers(min_value=10, max_value=10_000),
    depth=st.integers(min_value=1, max_value=5),
)
def test_auto_matches_brute_force(
    specs: list[tuple[int, int, float]], floor: float, budget: int, slo: int, depth: int
) -> None:
    """Auto's pick is the cheapest of ALL cascades (no pruning) meeting SLO, budget and
    floor; so it never pays more than a cheaper qualifying cascade. If none qualifies,
    its pick stays within the budget."""
    names = [f"m{i}" for i in range(len(specs))]
    depth = min(depth, len(specs))
    fleet = _fleet(*((n, p, ms, q) for n, (p, ms, q) in zip(names, specs, strict=True)))
    plan = _plan(
        f"{{selector: auto, models: [{', '.join(names)}], min_quality: {floor:.6f},"
        f" max_depth: {depth}}}",
        fleet=fleet,
        budget=budget,
        slo=slo,
    )
    eligible = [c for c in plan.candidates if c.kept or c.drop is DropReason.NOT_CHOSEN]
    eligible.sort(key=lambda c: (c.max_cost_micros, c.model_id))
    best = None
    for k in range(1, depth + 1):
        for combo in itertools.combinations(eligible, k):
            f = chain_figures(
                [c.max_cost_micros for c in combo],
                [c.profile.latency_p95_ms for c in combo],  # type: ignore[union-attr]
                [c.accept_probability for c in combo],
            )
            if f.cost_micros <= budget and f.latency_ms <= slo and f.quality >= floor:
                best = f.cost_micros if best is None else min(best, f.cost_micros)
    chosen = chain_figures(
        [c.max_cost_micros for c in plan.chain],
        [c.profile.latency_p95_ms for c in plan.chain],  # type: ignore[union-attr]
        [c.accept_probability for c in plan.chain],
    )
    if best is not None:
        assert plan.quality_floor_met
        assert chosen.cost_micros == pytest.approx(best)
    else:
        assert not plan.quality_floor_met
        assert chosen.cost_micros <= budget


@settings(max_examples=150, deadline=None)
@given(
    specs=models_st,
    acceptances=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=5, max_size=5),
    budget=st.integers(min_value=1, max_value=20_000),
    depth=st.integers(min_value=1, max_value=5),
)
def test_auto_builds_each_cascades_figures_as_chain_figures_does(
    specs: list[tuple[int, int, float]], acceptances: list[float], budget: int, depth: int
) -> None:
    """The enumeration extends a prefix's sums one stage at a time; every cascade's
    figures must still be exactly (not approximately) the whole chain's, acceptances
    apart from qualities, and its verdicts those figures' (floor 1: none is pruned as
    qualifying)."""
    names = [f"m{i}" for i in range(len(specs))]
    depth = min(depth, len(specs))
    fleet = _fleet(*((n, p, ms, q) for n, (p, ms, q) in zip(names, specs, strict=True)))
    plan = _plan(
        f"{{selector: auto, models: [{', '.join(names)}], min_quality: 1.0, max_depth: {depth}}}",
        fleet=fleet,
    )
    selector = plan.rule.strategy.selector
    eligible = [
        c.evolve(acceptance=a)
        for c, a in zip(
            [c for c in plan.candidates if c.kept or c.drop is DropReason.NOT_CHOSEN],
            acceptances,
            strict=False,
        )
    ]
    options = auto.enumerate_cascades(eligible, selector, budget, 2_000)
    assert options
    for o in options:
        whole = chain_figures(
            [c.max_cost_micros for c in o.chain],
            [latency_ms(c.profile, selector.latency_percentile) for c in o.chain if c.profile],
            [c.accept_probability for c in o.chain],
            [c.stage_acceptance for c in o.chain],
        )
        assert o.figures == whole
        assert (o.within_budget, o.meets_slo, o.meets_floor) == (
            whole.cost_micros <= budget,
            whole.latency_ms <= 2_000,
            whole.quality >= 1.0,
        )


def _plan_for(
    strategy: str,
    *,
    fleet: FleetView = FLEET,
    request: RouteInput = REQUEST,
    estimates: OutcomeEstimates | None = None,
    budget_cap_micros: int | None = None,
    states: dict[str, BreakerState] | None = None,
    **kw,
):
    """plan_route with the options _plan leaves at their defaults."""
    return plan_route(
        policy=_policy(strategy, **kw),  # type: ignore[arg-type]
        request=request,
        fleet=fleet,
        breaker_state=lambda m: (states or {}).get(m, BreakerState.CLOSED),
        remaining_ms=20_000,
        estimates=estimates,
        budget_cap_micros=budget_cap_micros,
    )


def test_score_plan_carries_its_rule_targets_and_chain_figures() -> None:
    """Without min_quality the floor counts as met and a score plan weighs no cascades.
    The plan names the matched rule, the policy's budget and SLO, and the chain's
    expectation at p95: medium then small, 800 + 0.25·400 = 900 ms, quality
    0.75 + 0.25·0.6 = 0.9."""
    plan = _plan("{selector: score, models: [small, medium, large], max_fallbacks: 1}")
    assert plan.quality_floor_met and plan.cascades == ()
    assert (plan.rule.name, plan.budget_micros, plan.slo_ms) == ("r", 100_000, 4000)
    assert plan.expected_latency_ms == 900
    assert plan.expected_quality == pytest.approx(0.9)


def test_score_names_the_rank_of_each_model_beyond_max_fallbacks() -> None:
    """max_fallbacks 0 keeps the best (medium); the others say where they ranked."""
    plan = _plan("{selector: score, models: [small, medium, large], max_fallbacks: 0}")
    assert [c.model_id for c in plan.chain] == ["medium"]
    reasons = {c.model_id: c.reason for c in plan.candidates if not c.kept}
    assert reasons == {
        "small": "ranked 2 of 3, beyond max_fallbacks",
        "large": "ranked 3 of 3, beyond max_fallbacks",
    }


def test_the_request_slo_replaces_the_policys_in_the_score() -> None:
    """A request SLO of 2,000 ms halves the latency term's denominator: small scores
    0.6 − 0.5·200/4000 − 0.1·400/2000 = 0.555, and the plan reports that SLO."""
    request = dataclasses.replace(REQUEST, latency_slo_ms=2000)
    plan = _plan_for("{selector: score, models: [small, medium, large]}", request=request)
    assert plan.slo_ms == 2000
    assert {c.model_id: c.score for c in plan.candidates}["small"] == pytest.approx(0.555)


@pytest.mark.parametrize("selector", ["score", "auto", "static"])
def test_a_budget_cap_lowers_the_requests_budget(selector: str) -> None:
    """A cap from outside the request (a steered tenant's remaining window) below the
    policy's budget becomes the plan's budget, and large (4,000 µUSD worst case) is
    dropped for it; a cap above the budget changes nothing."""
    strategy = {
        "score": "{selector: score, models: [small, medium, large]}",
        "auto": "{selector: auto, models: [small, medium, large], min_quality: 0.5}",
        "static": "{kind: cascade, stages: [{model: small}, {model: large}]}",
    }[selector]
    capped = _plan_for(strategy, budget_cap_micros=1500)
    assert capped.budget_micros == 1500
    drops = {c.model_id: c.drop for c in capped.candidates if not c.kept}
    assert drops["large"] is DropReason.BUDGET
    assert _plan_for(strategy, budget_cap_micros=10**9).budget_micros == 100_000


def test_score_min_quality_is_reached_at_exactly_the_floor() -> None:
    """Floor 0.75 is medium's q: medium reaches it and goes first as the cheapest that
    does, then large (0.9), then small below the floor; each model once."""
    plan = _plan(
        "{selector: score, models: [small, medium, large], max_fallbacks: 2, min_quality: 0.75}"
    )
    assert [c.model_id for c in plan.candidates] == ["medium", "large", "small"]
    assert plan.quality_floor_met


def test_score_floor_ties_on_price_go_to_the_better_model() -> None:
    """Two models at one price both reach the floor: the higher q goes first, whatever
    the ids' order."""
    fleet = _fleet(("x", 100_000, 400, 0.8), ("y", 100_000, 400, 0.9))
    plan = _plan("{selector: score, models: [x, y], min_quality: 0.7}", fleet=fleet)
    assert [c.model_id for c in plan.chain] == ["y", "x"]


def test_a_zero_score_ranks_below_a_positive_one() -> None:
    """Weights on quality only: a model with q = 0 scores exactly 0 and ranks below one
    scoring 0.5, though it is listed first and costs the same."""
    fleet = _fleet(("zero", 100_000, 400, 0.0), ("half", 100_000, 400, 0.5))
    plan = _plan(
        "{selector: score, models: [zero, half], weights: {cost: 0, latency: 0}}", fleet=fleet
    )
    assert [c.model_id for c in plan.chain] == ["half", "zero"]
    assert [c.score for c in plan.chain] == [0.5, 0.0]


def test_free_models_score_on_quality_and_latency_alone() -> None:
    """When every eligible model is free there is no cost to normalise by: the cost term
    is 0, so f1 scores 0.6 − 0.1·400/4000 = 0.59 and f2 0.75 − 0.1·800/4000 = 0.73."""
    fleet = _fleet(("f1", 0, 400, 0.6), ("f2", 0, 800, 0.75))
    plan = _plan("{selector: score, models: [f1, f2], max_fallbacks: 1}", fleet=fleet)
    scores = {c.model_id: c.score for c in plan.candidates}
    assert scores == {"f2": pytest.approx(0.73), "f1": pytest.approx(0.59)}
    assert plan.expected_cost_micros == 0


def test_auto_explains_every_cascade_it_weighed() -> None:
    """Floor 0.85 (the case above): the chosen small→medium says "chosen" and expects
    400 + 0.4·800 = 720 ms; small→large qualifies too but costs more; the model left out
    says it is not in the chosen cascade."""
    plan = _plan("{selector: auto, models: [small, medium, large], min_quality: 0.85}")
    by_chain = {o.model_ids: o for o in plan.cascades}
    assert by_chain[("small", "medium")].reason == "chosen"
    assert by_chain[("small", "large")].reason == "dearer than the chosen cascade"
    assert plan.expected_latency_ms == 720
    [left_out] = [c for c in plan.candidates if not c.kept]
    assert (left_out.model_id, left_out.reason) == ("large", "not in the chosen cascade")


def test_auto_with_nothing_qualifying_takes_the_cheaper_of_equal_quality() -> None:
    """Budget 1,000, SLO 300 ms, floor 0.9, two models of q 0.5 (a: 600 µUSD, 400 ms;
    b: 1,000 µUSD, 800 ms). a→b expects 600 + 0.5·1000 = 1,100 µUSD, 400 + 0.5·800 =
    800 ms and 0.75: over budget. a and b alone both miss the SLO and the floor with the
    same quality, so the cheaper, a, is taken, naming what it misses."""
    fleet = _fleet(("a", 300_000, 400, 0.5), ("b", 500_000, 800, 0.5))
    plan = _plan(
        "{selector: auto, models: [a, b], min_quality: 0.9}", fleet=fleet, budget=1000, slo=300
    )
    assert [c.model_id for c in plan.chain] == ["a"] and not plan.quality_floor_met
    by_chain = {o.model_ids: o for o in plan.cascades}
    assert by_chain[("a",)].reason == (
        "chosen (best available: misses the SLO, below the quality floor)"
    )
    assert by_chain[("b",)].reason == "misses the SLO, below the quality floor"
    both = by_chain[("a", "b")]
    assert both.reason == "over budget, misses the SLO, below the quality floor"
    assert (both.expected_cost_micros, both.expected_latency_ms) == (1100, 800)
    assert both.expected_quality == pytest.approx(0.75)


def test_auto_ties_on_cost_go_to_the_better_cascade() -> None:
    """x and y cost the same and both qualify alone: the higher quality (y) wins, though
    x sorts first."""
    fleet = _fleet(("x", 100_000, 400, 0.8), ("y", 100_000, 400, 0.9))
    plan = _plan("{selector: auto, models: [x, y], min_quality: 0.7, max_depth: 1}", fleet=fleet)
    assert [c.model_id for c in plan.chain] == ["y"]
    assert plan.expected_quality == pytest.approx(0.9)


def test_auto_weighs_cascades_with_the_measured_stage_acceptance() -> None:
    """small's stage was accepted 10 times: acceptance (10·0.6 + 10) / 20 = 0.8 (prior
    worth 10 outcomes), above its q of 0.6 (a lenient verifier). Alone it is worth
    min(0.6, 0.8) = 0.6, below the 0.7 floor; small→medium expects 200 + 0.2·1000 =
    400 µUSD, 400 + 0.2·800 = 560 ms and quality 0.6 + 0.2·0.75 = 0.75, and is chosen,
    with those figures in the plan and in the cascade it lists."""
    estimates = OutcomeEstimates(prior_weight=10, decay=1.0)
    for _ in range(10):
        estimates.record_stage("small", "chat", accepted=True)
    plan = _plan_for(
        "{selector: auto, models: [small, medium], min_quality: 0.7}", estimates=estimates
    )
    assert [c.model_id for c in plan.chain] == ["small", "medium"]
    assert (plan.expected_cost_micros, plan.expected_latency_ms) == (400, 560)
    assert plan.expected_quality == pytest.approx(0.75)
    [chosen] = [o for o in plan.cascades if o.chosen]
    assert (chosen.expected_cost_micros, chosen.expected_latency_ms) == (400, 560)
    assert chosen.expected_quality == pytest.approx(0.75)
    assert {o.model_ids: o.expected_quality for o in plan.cascades}[("small",)] == 0.6


def test_a_fan_out_with_every_member_filtered_expects_nothing() -> None:
    """A parallel rule whose members are all DOWN plans no call: expected cost, latency
    and quality are all 0 (the router still answers Plan() for it)."""
    down = FleetView(
        dataclasses.replace(FLEET.get(m), health="down")  # type: ignore[type-var]
        for m in ("small", "medium")
    )
    plan = _plan("{kind: parallel, models: [small, medium]}", fleet=down)
    assert plan.chain == ()
    assert (plan.expected_cost_micros, plan.expected_latency_ms) == (0, 0)
    assert plan.expected_quality == 0.0


def test_chain_figures_refuses_lists_of_different_lengths() -> None:
    """One figure per stage in every list: a short list is an error, not a chain silently
    cut to its shortest list."""
    with pytest.raises(ValueError):
        chain_figures([100, 1000], [1], [0.5, 0.9])


def test_auto_extends_a_chain_that_ties_the_best_cost() -> None:
    """Free models a, b, c (q 0.1 / 0.8 / 0.9, floor 0.85, depth 2): a→c qualifies first
    at cost 0, and b→c costs the same with higher quality, so pruning on a strictly
    lower cost would never weigh it; auto must pick b→c."""
    fleet = _fleet(("a", 0, 400, 0.1), ("b", 0, 400, 0.8), ("c", 0, 400, 0.9))
    plan = _plan(
        "{selector: auto, models: [a, b, c], min_quality: 0.85, max_depth: 2}", fleet=fleet
    )
    assert [c.model_id for c in plan.chain] == ["b", "c"]
    assert plan.expected_quality == pytest.approx(1 - 0.2 * 0.1)
