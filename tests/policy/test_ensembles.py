"""Policy format for parallel, vote and hedge (switchyard/policy/ensembles.py): settings,
defaults, and one field violation per problem."""

from __future__ import annotations

import pytest

from switchyard.policy import (
    HedgeCap,
    HedgeSettings,
    ParallelSettings,
    RequestFacts,
    VoteSettings,
    parse_policy,
)
from switchyard.runtime.errors import InvalidArgument

DEFAULT = "default: {name: d, strategy: {kind: single, model: a}}"


def rule(strategy: str, when: str = "") -> str:
    return f"name: p\nrules:\n  - name: r\n{when}    strategy: {strategy}\n{DEFAULT}\n"


def violations(source: str) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        parse_policy(source)
    return {v.field: v.description for v in caught.value.violations}


def test_parallel_defaults_to_every_model_and_no_accept_score() -> None:
    policy = parse_policy(rule("{kind: parallel, models: [a, b, c]}"))
    assert policy.rules[0].strategy.parallel == ParallelSettings(fan_out=3, accept_score=None)
    policy = parse_policy(
        rule("{kind: parallel, models: [a, b, c], fan_out: 2, accept_score: 0.8}")
    )
    assert policy.rules[0].strategy.parallel == ParallelSettings(fan_out=2, accept_score=0.8)


def test_vote_settings_and_conditions() -> None:
    policy = parse_policy(
        rule(
            "{kind: vote, models: [a, b, c], weighting: confidence, tie_break: none,"
            " min_agreement: 0.6}",
            when="    when: {task_types: [classification, extraction]}\n",
        )
    )
    assert policy.rules[0].strategy.vote == VoteSettings(
        fan_out=3, weighting="confidence", tie_break="none", min_agreement=0.6
    )


def test_vote_on_maths_final_answers_is_allowed() -> None:
    policy = parse_policy(
        rule("{kind: vote, models: [a, b]}", when="    when: {task_types: [math]}\n")
    )
    assert policy.rules[0].strategy.kind == "vote"


def test_vote_on_json_responses_of_any_task_and_the_condition_matches_json_only() -> None:
    """when.response_format: json_object allows a vote for any task type, and the rule
    then matches JSON requests only."""
    policy = parse_policy(
        rule("{kind: vote, models: [a, b]}", when="    when: {response_format: json_object}\n")
    )
    facts = RequestFacts(task_type="reasoning", tier="", prompt_tokens=5, json_mode=True)
    assert policy.match(facts).name == "r"
    text = RequestFacts(task_type="reasoning", tier="", prompt_tokens=5)
    assert policy.match(text).name == "d"


def test_hedge_settings() -> None:
    policy = parse_policy(
        rule(
            "{kind: hedge, models: [a, b], delay_ms: 200, delay_percentile: p95,"
            " cap: {share: 0.1, micros: 5000, window_ms: 30000}}"
        )
    )
    assert policy.rules[0].strategy.hedge == HedgeSettings(
        delay_ms=200,
        cap=HedgeCap(share=0.1, micros=5000, window_ms=30000),
        delay_percentile="p95",
    )


def hedge(delay: str = "delay_ms: 5", cap: str = "cap: {share: 1, micros: 1}") -> str:
    return "{kind: hedge, models: [a, b], " + ", ".join(x for x in (delay, cap) if x) + "}"


@pytest.mark.parametrize(
    ("strategy", "field", "fragment"),
    [
        ("{kind: parallel, models: [a, b], fan_out: 3}", "fan_out", "wider than the 2"),
        ("{kind: vote, models: [a, b, c], fan_out: 4}", "fan_out", "wider than the 3"),
        ("{kind: parallel, models: [a]}", "models", "at least two"),
        ("{kind: parallel, models: [a, b], accept_score: 1.5}", "accept_score", "between"),
        ("{kind: parallel, models: [a, b], delay_ms: 5}", "delay_ms", "only for hedge"),
        ("{kind: cascade, models: [a, b], fan_out: 2}", "fan_out", "only for parallel"),
        ("{kind: vote, models: [a, b], weighting: loud}", "weighting", "majority or"),
        ("{kind: vote, models: [a, b], tie_break: coin}", "tie_break", "order, score"),
        ("{kind: parallel, selector: score, models: [a, b]}", "selector", "static selector"),
        (hedge(delay=""), "delay_ms", "required"),
        (hedge(delay="delay_ms: 0"), "delay_ms", "positive"),
        (hedge(delay="delay_ms: -5"), "delay_ms", "positive"),
        (hedge(delay="delay_ms: 5, delay_percentile: p42"), "delay_percentile", "p50"),
        (hedge(cap=""), "cap", "required"),
        (hedge(cap="cap: {share: 0, micros: 1}"), "cap.share", "positive"),
        (hedge(cap="cap: {share: -0.5, micros: 1}"), "cap.share", "positive"),
        (hedge(cap="cap: {share: 2, micros: 1}"), "cap.share", "between"),
        (hedge(cap="cap: {share: 1, micros: 0}"), "cap.micros", "positive"),
        (hedge(cap="cap: {share: 1}"), "cap.micros", "required"),
        (hedge(cap="cap: {share: 1, micros: 1, window_ms: 0}"), "cap.window_ms", "positive"),
    ],
)
def test_bad_ensemble_settings_are_field_violations(strategy, field, fragment) -> None:
    found = violations(rule(strategy))
    path = f"rules[0].strategy.{field}"
    assert path in found, found
    assert fragment in found[path]


@pytest.mark.parametrize(
    "when",
    [
        "",  # matches every task type
        "    when: {task_types: [chat]}\n",
        "    when: {task_types: [classification, summarization]}\n",
        "    when: {task_types: [code_generation]}\n",
        "    when: {task_types: [reasoning], response_format: text}\n",
        "    when: {task_types: [math, reasoning]}\n",
    ],
)
def test_vote_on_free_text_is_refused(when: str) -> None:
    """A vote rule that could match a free-text task (and is not JSON-only) is refused."""
    found = violations(rule("{kind: vote, models: [a, b]}", when))
    assert "vote needs comparable answers" in found["rules[0].strategy.kind"]


def test_every_problem_at_once() -> None:
    found = violations(
        "name: p\nrules:\n"
        "  - name: a\n    strategy: {kind: parallel, models: [a, b], fan_out: 5}\n"
        "  - name: b\n    strategy: {kind: hedge, models: [a, b], delay_ms: 0,"
        " cap: {share: 0, micros: 0}}\n"
        "default: {name: d, strategy: {kind: vote, models: [a, b]}}\n"
    )
    assert set(found) == {
        "rules[0].strategy.fan_out",
        "rules[1].strategy.delay_ms",
        "rules[1].strategy.cap.share",
        "rules[1].strategy.cap.micros",
        "default.strategy.kind",
    }


def test_response_format_condition_is_validated() -> None:
    found = violations(rule("{kind: single, model: a}", "    when: {response_format: xml}\n"))
    assert "text or json_object" in found["rules[0].when.response_format"]
