"""Policy documents: the example parses, rules match in order, bad documents list every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchyard.policy import RequestFacts, parse_policy
from switchyard.runtime.errors import InvalidArgument

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "policy.yaml").read_text()
FLEET = {"small", "medium", "large", "code"}


def facts(task: str = "chat", tier: str = "", tokens: int = 500) -> RequestFacts:
    return RequestFacts(task_type=task, tier=tier, prompt_tokens=tokens)


def test_example_policy_encodes_the_seed_rules() -> None:
    """Enterprise → large, code → code, short → small, everything else → small→large cascade."""
    policy = parse_policy(EXAMPLE, known_models=FLEET)
    assert policy.match(facts(tier="enterprise", tokens=10)).strategy.models == ("large",)
    assert policy.match(facts(task="code_generation")).strategy.models == ("code",)
    assert policy.match(facts(tokens=127)).strategy.models == ("small",)
    default = policy.match(facts(tokens=128))
    assert default.strategy.kind == "cascade"
    assert default.strategy.models == ("small", "large")
    assert [c.name for c in default.checks] == ["non_empty", "length"]


def test_conditions_are_anded() -> None:
    """A rule with several conditions matches only when all hold."""
    policy = parse_policy(
        """
name: p
rules:
  - name: both
    when: {task_types: [math], tiers: [pro], metadata: {region: eu}}
    strategy: {kind: single, model: a}
default: {name: d, strategy: {kind: single, model: b}}
"""
    )
    rule = policy.rules[0]
    assert rule.when.matches(RequestFacts("math", "pro", 1, {"region": "eu"}))
    assert not rule.when.matches(RequestFacts("math", "pro", 1, {"region": "us"}))
    assert not rule.when.matches(RequestFacts("chat", "pro", 1, {"region": "eu"}))


def test_every_problem_is_reported_with_its_path() -> None:
    """Unknown fields, bad strategies, unknown models and task types all come back at once."""
    source = """
name: broken
colour: red
rules:
  - name: r
    when: {task_types: [astrology]}
    strategy: {kind: cascade, stages: [{model: small}]}
  - name: r
    strategy: {kind: teleport, model: ghost}
default: {name: d, strategy: {kind: single, model: small}}
"""
    with pytest.raises(InvalidArgument) as info:
        parse_policy(source, known_models=FLEET)
    fields = {v.field for v in info.value.violations}
    assert "colour" in fields
    assert "rules[0].when.task_types" in fields
    assert "rules[0].strategy.stages" in fields
    assert "rules[1].strategy.kind" in fields
    assert "rules[1].strategy.stages[0].model" in fields
    assert "rules" in fields  # duplicate rule name


@pytest.mark.parametrize(
    "source",
    ["", "just a string", "name: [unclosed", "name: p\nrules: []\n"],
)
def test_malformed_documents_are_refused(source: str) -> None:
    """Empty, non-mapping, invalid YAML and missing default are INVALID_ARGUMENT, never a crash."""
    with pytest.raises(InvalidArgument):
        parse_policy(source)


def test_chains_are_bounded() -> None:
    """More than 8 stages or more than 5 retries is refused: every chain stays finite and short."""
    stages = ", ".join(f"{{model: m{i}}}" for i in range(9))
    with pytest.raises(InvalidArgument):
        parse_policy(
            f"name: p\ndefault: {{name: d, strategy: {{kind: cascade, stages: [{stages}]}}}}"
        )
    with pytest.raises(InvalidArgument):
        parse_policy(
            "name: p\nretry: {max_retries: 50}\n"
            "default: {name: d, strategy: {kind: single, model: a}}"
        )


def test_unknown_check_is_refused_at_parse_time() -> None:
    """A rule naming a check the verifier does not have is caught when the policy is published."""
    with pytest.raises(InvalidArgument) as info:
        parse_policy(
            "name: p\n"
            "default: {name: d, strategy: {kind: single, model: a}, checks: [{name: vibes}]}"
        )
    assert any(v.field.startswith("default.checks[0]") for v in info.value.violations)


SELECTOR_BASE = """
name: p
default:
  name: r
  strategy: {strategy}
"""


@pytest.mark.parametrize(
    ("strategy", "field"),
    [
        ("{selector: score, models: [a, b], weights: {cost: -1}}", "default.strategy.weights.cost"),
        (
            "{selector: score, models: [a, b], weights: {quality: 0, cost: 0, latency: 0}}",
            "default.strategy.weights",
        ),
        ("{selector: auto, models: [a, b], min_quality: 1.5}", "default.strategy.min_quality"),
        ("{selector: auto, models: [a, b]}", "default.strategy.min_quality"),
        (
            "{selector: auto, models: [a, b], min_quality: 0.5, max_depth: 0}",
            "default.strategy.max_depth",
        ),
        (
            "{selector: auto, models: [a, b], min_quality: 0.5, max_depth: 3}",
            "default.strategy.max_depth",
        ),
        ("{selector: score, models: [a]}", "default.strategy.models"),
        ("{selector: fancy, models: [a, b]}", "default.strategy.selector"),
        ("{kind: single, model: a, min_quality: 0.5}", "default.strategy.min_quality"),
        ("{selector: score, models: [a, b], max_fallbacks: 2}", "default.strategy.max_fallbacks"),
    ],
)
def test_bad_selector_settings_are_field_violations(strategy: str, field: str) -> None:
    """Negative or all-zero weights, a floor outside 0..1, a depth outside 1..models, too
    few models, an unknown selector, and selector fields on a static rule are refused
    with the field to fix."""
    with pytest.raises(InvalidArgument) as caught:
        parse_policy(SELECTOR_BASE.format(strategy=strategy))
    assert field in {v.field for v in caught.value.violations}


def test_selector_and_predictor_parse() -> None:
    """A score rule reads its weights; the predictor block its artefact and mapping."""
    policy = parse_policy(
        SELECTOR_BASE.format(
            strategy="{selector: score, models: [a, b], weights: {quality: 2, cost: 1}}"
        )
        + "predictor: {artefact: p.json, models: {a: mixtral}}\n"
    )
    strategy = policy.default.strategy
    assert strategy.selector.kind == "score" and strategy.kind == "single"
    assert strategy.selector.weights.quality == 2.0 and strategy.models == ("a", "b")
    assert policy.predictor is not None
    assert policy.predictor.artefact_model("a") == "mixtral"
    assert policy.predictor.artefact_model("b") == "b"
