"""The scenario list: checking it, choosing from it, and the policy built from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.plan import ScenarioError, build_policy, check_scenarios, request_for, select
from bench.scenarios import SCENARIO_METADATA_KEY, SCENARIOS, FixedRate, Scale, Throughput
from switchyard.policy import RequestFacts, parse_policy
from switchyard.router.v1 import router_pb2

POLICIES = Path(__file__).resolve().parents[2] / "bench" / "policies"
MODELS = [m["id"] for m in yaml.safe_load((POLICIES / "fleet.yaml").read_text())]
BASE = (POLICIES / "policy.yaml").read_text()


def test_the_shipped_list_is_valid_and_builds_a_policy() -> None:
    """bench/scenarios.py passes its checks and every router scenario gets its rule."""
    scenarios = check_scenarios(SCENARIOS)
    text, refused = build_policy(BASE, scenarios, MODELS)
    assert refused == {}
    policy = parse_policy(text, known_models=MODELS)
    names = {rule.name for rule in policy.rules}
    assert {"bench-single", "bench-fallback", "bench-cascade", "bench-faults"} <= names


def test_shipped_simulator_models_match_the_fleet() -> None:
    """Every fleet model is simulated, so no scenario calls a model that does not exist."""
    simulated = yaml.safe_load((POLICIES / "simulator.yaml").read_text())["models"]
    assert set(MODELS) <= set(simulated)
    assert simulated["small"]["quality"] == 0.8


def test_a_new_strategy_is_one_entry() -> None:
    """Adding a Throughput entry adds its rule, and the request it sends matches it."""
    stages = [{"model": "small"}, {"model": "large"}]
    extra = Throughput("two-stage", "x", strategy={"kind": "cascade", "stages": stages})
    text, refused = build_policy(BASE, check_scenarios([*SCENARIOS, extra]), MODELS)
    assert refused == {}
    policy = parse_policy(text, known_models=MODELS)
    request = request_for(extra)
    facts = RequestFacts(
        task_type="chat", tier="", prompt_tokens=20, metadata=dict(request.metadata)
    )
    rule = policy.match(facts)
    assert rule.name == "bench-two-stage"
    assert rule.strategy.models == ("small", "large")


def test_a_strategy_the_router_refuses_is_skipped_with_the_reason() -> None:
    """An unknown strategy kind leaves that scenario out (with the parser's words) and
    keeps the rest of the policy valid."""
    odd = Throughput("odd", "x", strategy={"kind": "no-such-strategy", "model": "instant"})
    text, refused = build_policy(BASE, [SCENARIOS[1], odd], MODELS)
    assert "odd" in refused and "no-such-strategy" in refused["odd"]
    assert [r.name for r in parse_policy(text, known_models=MODELS).rules] == ["bench-single"]


def test_every_problem_is_reported_at_once() -> None:
    """Duplicate names, bad references, bad ranges and misplaced strategies, together."""
    bad = [
        Throughput("floor", "x", target="echo", strategy={"kind": "single", "model": "instant"}),
        Throughput("floor", "x", strategy=None),
        FixedRate("rates", "x", of="missing", fractions=(0.5, 1.5)),
        Scale("Scale", "x", of="floor", routers=1),
        Throughput("echo-flags", "x", target="echo", router_args=("--x", "y")),
        Throughput(
            "variant",
            "x",
            strategy={"kind": "single", "model": "instant"},
            router_args=("--verifier-mode", "remote"),
        ),
        FixedRate("variant-rates", "x", of="variant"),
    ]
    with pytest.raises(ScenarioError) as caught:
        check_scenarios(bad)
    text = str(caught.value)
    for fragment in (
        "takes no strategy",
        "used twice",
        "needs a strategy",
        "`of` must name",
        "fractions",
        "lowercase",
        "at least 2",
        "takes no router_args",
        "without router_args",
    ):
        assert fragment in text


def test_select_adds_what_a_scenario_is_measured_against() -> None:
    """--only fixed-rate also runs single (its maximum sets the rates); unknown names fail."""
    chosen = [s.name for s in select(SCENARIOS, ["fixed-rate"])]
    assert chosen == ["single", "fixed-rate"]
    assert select(SCENARIOS, []) == tuple(SCENARIOS)
    with pytest.raises(ScenarioError, match="unknown scenario"):
        select(SCENARIOS, ["nope"])


def test_request_carries_the_prompt_and_tag() -> None:
    """Each scenario's request is one user message tagged with the scenario name."""
    request = router_pb2.RouteRequest.FromString(request_for(SCENARIOS[1]).SerializeToString())
    assert request.messages[0].role == "user" and request.messages[0].content
    assert request.metadata[SCENARIO_METADATA_KEY] == SCENARIOS[1].name


def test_rule_settings_reach_the_scenarios_rule() -> None:
    """A Throughput's `rule` settings (here the cache-hit scenario's response cache) are
    part of its policy rule, and the policy parser accepts them."""
    text, refused = build_policy(BASE, check_scenarios(SCENARIOS), MODELS)
    assert "cache-hit" not in refused
    rules = {r.name: r for r in parse_policy(text, known_models=MODELS).rules}
    cache = rules["bench-cache-hit"].cache
    assert cache is not None and cache.ttl_s == 3600
    assert rules["bench-single"].cache is None
    with pytest.raises(ScenarioError, match="must not replace"):
        check_scenarios([Throughput("x", "x", strategy={"model": "a"}, rule={"when": {}})])
