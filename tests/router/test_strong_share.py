"""`strong_share`: a score rule's dearest model goes first on that share of requests, by
an online threshold on its predicted gain (services/router/selection/share.py)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.breakers import BreakerState
from services.router.planning import BoundPredictor, RouteInput, plan_route
from services.router.providers.base import ChatTurn
from services.router.selection import share
from services.router.selection.share import MIN_SAMPLES, GainWindow, ShareWindows
from switchyard.policy import Policy, PredictorRef, parse_policy
from switchyard.runtime.errors import InvalidArgument
from tests.router.test_selection import FLEET


class GainPredictor:
    """P(acceptable) from the prompt "gain G": small 0.5, large 0.5 + G, medium 0.4."""

    def predict(self, prompt: str, task_type: str, models: Sequence[str]) -> dict[str, float]:
        gain = float(prompt.split()[1])
        table = {"small": 0.5, "medium": 0.4, "large": 0.5 + gain}
        return {m: table[m] for m in models}


def _policy(selector: str, *, predictor: bool = True) -> Policy:
    block = "predictor: {artefact: a.zip}\n" if predictor else ""
    return parse_policy(
        f"""
name: t
slo_ms: 4000
max_deadline_ms: 20000
budget_micros: 100000
{block}default:
  name: r
  strategy: {{selector: score, models: [small, medium, large], {selector}}}
"""
    )


def _plan(policy: Policy, gain: float, windows: ShareWindows | None = None):
    predictor = BoundPredictor(GainPredictor(), PredictorRef(artefact="a.zip"))
    return plan_route(
        policy=policy,
        request=RouteInput(
            messages=(ChatTurn("user", f"gain {gain}"),),
            max_output_tokens=1000,
            prompt_tokens=1000,
        ),
        fleet=FLEET,
        breaker_state=lambda m: BreakerState.CLOSED,
        remaining_ms=20_000,
        predictor=predictor,
        gain_window=windows.reader("v1") if windows else None,
    )


def test_the_window_is_bounded_and_warms_up_before_it_sets_a_threshold() -> None:
    window = GainWindow(size=50)
    for g in range(MIN_SAMPLES - 1):
        window.record(g / 100)
    assert window.threshold(0.5) is None
    window.record(0.5)
    assert window.threshold(0.5) is not None
    for g in range(200):
        window.record(1.0 - g / 1000)
    assert len(window) == 50  # only the last 50 gains count
    assert window.threshold(0.0) == 2.0 and window.threshold(1.0) == -2.0
    # The last 50 gains are 0.851..0.800: a fifth of them lie above 0.841.
    assert window.threshold(0.2) == pytest.approx(0.840)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-1, 1, allow_nan=False), min_size=MIN_SAMPLES, max_size=300, unique=True),
    st.floats(0.0, 1.0),
)
def test_the_threshold_leaves_the_share_of_the_window_above_it(
    gains: list[float], strong_share: float
) -> None:
    """Of n distinct gains, exactly floor(share · n) lie strictly above the threshold:
    the share, to within one request."""
    window = GainWindow(size=1000)
    for g in gains:
        window.record(g)
    threshold = window.threshold(strong_share)
    assert threshold is not None
    above = sum(g > threshold for g in gains)
    assert above == int(strong_share * len(gains))


def test_the_dearest_model_goes_first_exactly_when_its_gain_beats_the_threshold() -> None:
    policy = _policy("strong_share: 0.25, weights: {quality: 1, cost: 0.5}")
    windows = ShareWindows()
    window = windows.window("v1", "r")
    for g in range(100):
        window.record(g / 200)  # gains 0.000..0.495: a quarter lie above 0.370
    high, low = _plan(policy, 0.4, windows), _plan(policy, 0.37, windows)
    assert high.chain[0].model_id == "large" and high.strong_gain == pytest.approx(0.4)
    assert high.chain[0].reason.startswith("strong_share 0.25: predicted gain +0.400 > +0.370")
    # At the threshold the weights rank the others; the dearest model moves last.
    assert low.chain[0].model_id == "small"
    assert [c.model_id for c in low.candidates][-1] == "large"
    assert "+0.370 <= +0.370" in low.candidates[-1].reason
    # The planner reads the window; only the caller feeds it.
    assert len(window) == 100


def test_while_warming_up_the_weights_rank_and_the_gain_is_still_reported() -> None:
    policy = _policy("strong_share: 0.5, weights: {quality: 1, cost: 0.5}")
    plan = _plan(policy, 0.45, ShareWindows())
    weights_only = _plan(_policy("weights: {quality: 1, cost: 0.5}"), 0.45)
    assert [c.model_id for c in plan.chain] == [c.model_id for c in weights_only.chain]
    assert plan.strong_gain == pytest.approx(0.45)
    large = next(c for c in plan.candidates if c.model_id == "large")
    assert "warming up (0 of 20 gains seen)" in large.reason


def test_a_router_fed_its_own_gains_sends_about_the_share() -> None:
    """What Route() does (plan, then record the plan's gain), over 2,000 requests whose
    gains are uniform: the dearest model takes the share, to within a few points."""
    policy = _policy("strong_share: 0.2, weights: {quality: 1, cost: 0.5}, max_fallbacks: 0")
    windows = ShareWindows()
    rng = random.Random(3)
    firsts = []
    for _ in range(2000):
        plan = _plan(policy, round(rng.uniform(-0.3, 0.5), 4), windows)
        assert plan.strong_gain is not None
        windows.feed("v1", plan)
        firsts.append(plan.chain[0].model_id)
    assert abs(firsts.count("large") / len(firsts) - 0.2) < 0.03


def test_windows_are_per_policy_version_and_rule_and_old_versions_are_dropped() -> None:
    windows = ShareWindows()
    windows.window("v1", "a").record(0.1)
    assert len(windows.window("v1", "b")) == 0 and len(windows.window("v2", "a")) == 0
    assert len(windows.window("v1", "a")) == 1
    windows.window("v2", "a").record(0.2)
    for i in range(share.MAX_POLICIES - 2):  # 16 versions held: none dropped yet
        windows.window(f"later-{i}", "a")
    assert len(windows.window("v1", "a")) == 1
    windows.window("one-more", "a")  # the 17th drops the oldest, v1, and only it
    assert windows.sizes()[("v2", "a")] == 1 and ("v1", "a") not in windows.sizes()


def test_the_windows_keep_their_size() -> None:
    windows = ShareWindows(size=3)
    for g in (0.1, 0.2, 0.3, 0.4):
        windows.window("v1", "a").record(g)
    assert windows.sizes() == {("v1", "a"): 3}


def test_two_models_are_enough_and_one_eligible_model_is_served_alone() -> None:
    two = parse_policy(
        """
name: t
predictor: {artefact: a.zip}
default:
  name: r
  strategy: {selector: score, models: [small, large], strong_share: 0.5}
"""
    )
    assert _plan(two, 0.2, ShareWindows()).strong_gain == pytest.approx(0.2)
    predictor = BoundPredictor(GainPredictor(), PredictorRef(artefact="a.zip"))
    alone = plan_route(
        policy=two,
        request=RouteInput(messages=(ChatTurn("user", "gain 0.2"),), prompt_tokens=10),
        fleet=FLEET,
        breaker_state=lambda m: BreakerState.OPEN if m == "large" else BreakerState.CLOSED,
        remaining_ms=20_000,
        predictor=predictor,
        gain_window=lambda rule: ShareWindows().window("v1", rule.name),
    )
    # No other model to gain over: no gain, nothing for the window.
    assert [c.model_id for c in alone.chain] == ["small"] and alone.strong_gain is None


def test_warming_up_says_how_far_and_marks_only_the_dearest_model() -> None:
    policy = _policy("strong_share: 0.5, weights: {quality: 1, cost: 0.5}")
    windows = ShareWindows()
    for g in range(5):
        windows.window("v1", "r").record(g / 10)
    plan = _plan(policy, 0.1, windows)
    reasons = {c.model_id: c.reason for c in plan.candidates}
    assert "(5 of 20 gains seen)" in reasons["large"]
    assert not reasons["small"].startswith("strong_share")
    assert not reasons["medium"].startswith("strong_share")
    # Without a window (a caller that keeps none) the rule ranks by its weights.
    bare = _plan(policy, 0.1)
    large = next(c for c in bare.candidates if c.model_id == "large")
    assert "(0 of 20 gains seen)" in large.reason and bare.strong_gain == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("selector", "predictor", "field", "says"),
    [
        ("strong_share: 1.5", True, "default.strategy.strong_share", "1"),
        ("strong_share: 0.2, min_quality: 0.8", True, "default.strategy.strong_share", "not both"),
        ("strong_share: 0.2", False, "default.strategy.strong_share", "predictor"),
    ],
)
def test_bad_strong_shares_are_refused_with_the_field(
    selector: str, predictor: bool, field: str, says: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        _policy(selector, predictor=predictor)
    [violation] = refused.value.violations
    assert violation.field == field and says in violation.description


def test_strong_share_is_for_the_score_selector_only() -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_policy(
            """
name: t
predictor: {artefact: a.zip}
default:
  name: r
  strategy: {selector: auto, models: [small, large], min_quality: 0.8, strong_share: 0.2}
"""
        )
    assert any(
        v.field == "default.strategy.strong_share" and "only for the score selector" in
        v.description for v in refused.value.violations
    )  # fmt: skip
