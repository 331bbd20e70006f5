"""Policy documents: the example parses, rules match in order, bad documents list every problem."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from switchyard.policy import (
    BreakerPolicy,
    CheckRef,
    Conditions,
    Degrade,
    Policy,
    RequestFacts,
    RetrySettings,
    Rule,
    Stage,
    Strategy,
    parse_policy,
)
from switchyard.policy.parse import MAX_SOURCE_BYTES
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


# -- exact documents and exact violations --------------------------------------------------

DEFAULT_RULE = "default: {name: d, strategy: {kind: single, model: a}}"
KNOWN_CHECKS = (
    "blocklist, final_answer, json, json_schema, length, non_empty, refusal, regex, truncation"
)
KNOWN_TASKS = (
    "['chat', 'classification', 'code_generation', 'extraction', 'math', 'reasoning',"
    " 'summarization']"
)


def problems(source: str, **kw: object) -> list[tuple[str, str]]:
    """The (field, description) pairs parse_policy refuses `source` with, in order."""
    with pytest.raises(InvalidArgument) as info:
        parse_policy(source, **kw)  # type: ignore[arg-type]
    return [(v.field, v.description) for v in info.value.violations]


def test_every_field_is_read_into_the_policy() -> None:
    """A document setting every field parses into exactly the Policy it describes."""
    source = """
name: full
slo_ms: 1500
max_deadline_ms: 9000
budget_micros: 777
retry: {max_retries: 3, base_backoff_ms: 7, max_backoff_ms: 70, throttle_max_tokens: 6,
        throttle_token_ratio: 0.25}
breaker: {window_size: 30, minimum_calls: 5, failure_rate_threshold: 0.4,
          slow_call_rate_threshold: 0.9, slow_call_ms: 1234, open_wait_ms: 2000,
          max_open_wait_ms: 4000, half_open_calls: 2, ramp_up_ms: 3000}
checks: [{name: non_empty}, {name: length, params: {min_chars: 5}}]
degrade: {static_answer: sorry, human_review: true}
rules:
  - name: r1
    when: {task_types: [math, chat], tiers: pro, min_prompt_tokens: 10, max_prompt_tokens: 20,
           metadata: {region: eu}, feature_flags: [beta, eu]}
    strategy: {kind: cascade, stages: [{model: a, max_retries: 2, timeout_ms: 300}, {model: b}]}
    checks: [{name: refusal}]
    min_score: 0.5
  - name: r2
    checks: []
    strategy: {kind: single, model: b}
default: {name: d, strategy: {kind: single, stages: [{model: c}]}}
"""
    default_checks = (CheckRef("non_empty"), CheckRef("length", {"min_chars": 5}))
    assert parse_policy(source, known_models={"a", "b", "c"}) == Policy(
        name="full",
        slo_ms=1500,
        max_deadline_ms=9000,
        budget_micros=777,
        retry=RetrySettings(
            max_retries=3,
            base_backoff_ms=7,
            max_backoff_ms=70,
            throttle_max_tokens=6.0,
            throttle_token_ratio=0.25,
        ),
        breaker=BreakerPolicy(
            window_size=30,
            minimum_calls=5,
            failure_rate_threshold=0.4,
            slow_call_rate_threshold=0.9,
            slow_call_ms=1234,
            open_wait_ms=2000,
            max_open_wait_ms=4000,
            half_open_calls=2,
            ramp_up_ms=3000,
        ),
        degrade=Degrade(static_answer="sorry", human_review=True),
        rules=(
            Rule(
                name="r1",
                when=Conditions(
                    task_types=frozenset({"math", "chat"}),
                    tiers=frozenset({"pro"}),
                    min_prompt_tokens=10,
                    max_prompt_tokens=20,
                    metadata={"region": "eu"},
                    feature_flags=frozenset({"beta", "eu"}),
                ),
                strategy=Strategy(
                    "cascade", (Stage("a", max_retries=2, timeout_ms=300), Stage("b"))
                ),
                checks=(CheckRef("refusal"),),
                min_score=0.5,
            ),
            Rule(name="r2", strategy=Strategy("single", (Stage("b"),)), checks=()),
        ),
        default=Rule(name="d", strategy=Strategy("single", (Stage("c"),)), checks=default_checks),
    )


def test_absent_fields_take_their_defaults() -> None:
    """A minimal document gets the documented defaults for every setting."""
    policy = parse_policy("name: p\ndefault: {name: d, strategy: {kind: single, model: a}}")
    assert policy == Policy(
        name="p",
        rules=(),
        default=Rule(name="d", strategy=Strategy("single", (Stage("a"),))),
        slo_ms=5000,
        max_deadline_ms=30_000,
        budget_micros=50_000,
        retry=RetrySettings(),
        breaker=BreakerPolicy(),
        degrade=Degrade(),
    )
    assert policy.default.when == Conditions() and policy.default.min_score == 0.0


def doc(
    top: str = "",
    *,
    when: str = "",
    strategy: str = "{kind: single, model: a}",
    rule: str = "",
) -> str:
    """A policy document named p: `top` lines, then a default rule with the given parts."""
    condition = f"when: {when}, " if when else ""
    return f"name: p\n{top}\ndefault: {{name: d, {condition}{rule}strategy: {strategy}}}"


def set_path(document: dict, path: str, value: object) -> dict:
    """A copy of `document` with the dotted `path` (list indexes as numbers) set to value."""
    document = copy.deepcopy(document)
    *parents, last = path.split(".")
    node: Any = document
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    node[int(last) if isinstance(node, list) else last] = value
    return document


def read_path(policy: Policy, path: str) -> object:
    """The parsed value at a document path (the policy's attributes mirror the document)."""
    value: Any = policy
    for key in path.split("."):
        value = value[int(key)] if key.isdigit() else getattr(value, key)
    return value


BASE_DOCUMENT = {
    "name": "p",
    "default": {"name": "d", "strategy": {"kind": "single", "stages": [{"model": "a"}]}},
}
# (document path, low, high, settings that keep the rest valid at both ends)
BOUNDS = [
    ("slo_ms", 1, 600_000, {"max_deadline_ms": 600_000}),
    ("max_deadline_ms", 1, 600_000, {"slo_ms": 1}),
    ("budget_micros", 1, 10**12, {}),
    ("retry.max_retries", 0, 5, {}),
    ("retry.base_backoff_ms", 0, 60_000, {}),
    ("retry.max_backoff_ms", 0, 60_000, {}),
    ("retry.throttle_max_tokens", 1, 1000, {}),
    ("retry.throttle_token_ratio", 0.0, 1.0, {}),
    ("breaker.window_size", 1, 10_000, {"breaker.minimum_calls": 1}),
    ("breaker.minimum_calls", 1, 10_000, {"breaker.window_size": 10_000}),
    ("breaker.slow_call_ms", 1, 600_000, {}),
    ("breaker.open_wait_ms", 1, 3_600_000, {"breaker.max_open_wait_ms": 3_600_000}),
    ("breaker.max_open_wait_ms", 1, 3_600_000, {"breaker.open_wait_ms": 1}),
    ("breaker.half_open_calls", 1, 1000, {}),
    ("breaker.ramp_up_ms", 1, 3_600_000, {}),
    ("breaker.failure_rate_threshold", 0.01, 1.0, {}),
    ("breaker.slow_call_rate_threshold", 0.01, 1.0, {}),
    ("default.strategy.stages.0.max_retries", 0, 5, {}),
    ("default.strategy.stages.0.timeout_ms", 1, 600_000, {}),
    ("default.when.min_prompt_tokens", 0, 10_000_000, {}),
    ("default.when.max_prompt_tokens", 0, 10_000_000, {}),
    ("default.min_score", 0.0, 1.0, {}),
]


@pytest.mark.parametrize(("path", "low", "high", "extra"), BOUNDS)
def test_bounded_numbers_accept_their_range_and_refuse_beyond(
    path: str, low: float, high: float, extra: dict
) -> None:
    """Each bounded number accepts both ends of its range and is refused one step outside,
    with a violation naming its path and the range."""
    document = BASE_DOCUMENT
    for key, value in extra.items():
        document = set_path(document, key, value)
    field = path.replace(".0.", "[0].")
    step = 1 if isinstance(low, int) else 0.001
    for value in (low, high):
        assert read_path(parse_policy(yaml.safe_dump(set_path(document, path, value))), path) == (
            value
        )
    for value in (low - step, high + step):
        assert problems(yaml.safe_dump(set_path(document, path, value))) == [
            (field, f"must be between {low} and {high}")
        ], value


CASCADE = "{kind: cascade, stages: [%s]}"
MISSING_DEFAULT = [
    ("default", "is required: the rule used when no other rule matches"),
    ("default.name", "is required"),
    ("default.strategy", "is required"),
]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("", [("source", "the policy document is empty"), *MISSING_DEFAULT]),
        ("just a string", [("", "must be a mapping"), *MISSING_DEFAULT]),
        (DEFAULT_RULE, [("name", "is required")]),
        (
            doc("colour: red\nretry: {colour: blue}"),
            [("colour", "unknown field"), ("retry.colour", "unknown field")],
        ),
        (
            doc(when="{colour: x}", strategy="{kind: single, model: a, colour: y}", rule="c: 1, "),
            [
                ("default.c", "unknown field"),
                ("default.when.colour", "unknown field"),
                ("default.strategy.colour", "unknown field"),
            ],
        ),
        (doc("retry: 5"), [("retry", "must be a mapping")]),
        (doc("breaker: [1]"), [("breaker", "must be a mapping")]),
        (doc("rules: 5"), [("rules", "must be a list")]),
        (
            doc(strategy="{kind: cascade, stages: 5}", rule="checks: 5, "),
            [
                ("default.checks", "must be a list"),
                ("default.strategy.stages", "must be a list"),
                ("default.strategy.stages", "a cascade needs at least two stages"),
            ],
        ),
        (
            doc(rule="checks: [{name: non_empty, params: 5}], "),
            [("default.checks[0].params", "must be a mapping")],
        ),
        (
            doc(rule="checks: [" + ", ".join(["{name: non_empty}"] * 33) + "], "),
            [("default.checks", "at most 32 entries")],
        ),
        (doc(strategy="{kind: single, model: null}"), [("default.strategy.model", "is required")]),
        (
            doc(strategy="{kind: single, model: ''}"),
            [("default.strategy.model", "must be a non-empty string")],
        ),
        (
            doc("slo_ms: '5'\nmax_deadline_ms: true\nbudget_micros: 1.5"),
            [
                ("slo_ms", "must be an integer"),
                ("max_deadline_ms", "must be an integer"),
                ("budget_micros", "must be an integer"),
            ],
        ),
        (
            doc(
                "retry: {max_retries: x}",
                strategy=CASCADE % "{model: a, timeout_ms: 1.5}, {model: b}",
            ),
            [
                ("default.strategy.stages[0].timeout_ms", "must be an integer"),
                ("retry.max_retries", "must be an integer"),
            ],
        ),
        (
            doc("retry: {throttle_max_tokens: x, throttle_token_ratio: false}"),
            [
                ("retry.throttle_max_tokens", "must be a number"),
                ("retry.throttle_token_ratio", "must be a number"),
            ],
        ),
        (
            "name: ''\ndefault: {name: '  ', strategy: {kind: 5, model: a}}",
            [
                ("default.name", "must be a non-empty string"),
                ("default.strategy.kind", "must be a non-empty string"),
                ("name", "must be a non-empty string"),
            ],
        ),
        ("name: p\ndefault: {name: d}", [("default.strategy", "is required")]),
        (doc(strategy="{model: a}"), [("default.strategy.kind", "is required")]),
        (
            doc(strategy="{kind: teleport, model: a}"),
            [
                (
                    "default.strategy.kind",
                    "unknown strategy 'teleport'; expected one of"
                    " ['single', 'cascade', 'parallel', 'vote', 'hedge']",
                )
            ],
        ),
        (
            doc(strategy="{kind: single, model: a, stages: [{model: b}]}"),
            [("default.strategy.model", "give one of model, models or stages")],
        ),
        (
            doc(strategy="{kind: single, stages: [{model: a}, {model: b}]}"),
            [("default.strategy", "a single strategy names exactly one model")],
        ),
        (
            doc(strategy=CASCADE % "{model: a}"),
            [("default.strategy.stages", "a cascade needs at least two stages")],
        ),
        (
            doc(strategy=CASCADE % "{model: a}, {model: a}"),
            [("default.strategy.stages", "a model may appear only once in a chain")],
        ),
        (
            doc(strategy=CASCADE % "{model: a}, b"),
            [
                ("default.strategy.stages[1]", "must be a mapping"),
                ("default.strategy.stages[1].model", "is required"),
            ],
        ),
        (
            doc(strategy=CASCADE % "{model: a}, {max_retries: 1}"),
            [("default.strategy.stages[1].model", "is required")],
        ),
        (
            doc(strategy=CASCADE % ", ".join(f"{{model: m{i}}}" for i in range(9))),
            [
                ("default.strategy.stages", "at most 8 entries"),
                ("default.strategy.stages", "a cascade needs at least two stages"),
            ],
        ),
        (
            doc("checks: [{name: non_empty, params: 5}]"),
            [("checks[0].params", "must be a mapping")],
        ),
        (doc("checks: [{params: {}}]"), [("checks[0].name", "is required")]),
        (doc("checks: [{name: non_empty, c: 1}]"), [("checks[0].c", "unknown field")]),
        (
            doc("checks: [" + ", ".join(["{name: non_empty}"] * 33) + "]"),
            [("checks", "at most 32 entries")],
        ),
        (
            doc("checks: [{name: vibes}]\nrules: [{name: r, strategy: {kind: single, model: a}}]"),
            [
                ("rules[0].checks[0].name", f"unknown check 'vibes'; known: {KNOWN_CHECKS}"),
                ("default.checks[0].name", f"unknown check 'vibes'; known: {KNOWN_CHECKS}"),
            ],
        ),
        (
            doc(when="{task_types: [astrology, math, zzz]}"),
            [
                ("default.when.task_types", f"unknown task type 'astrology'; known: {KNOWN_TASKS}"),
                ("default.when.task_types", f"unknown task type 'zzz'; known: {KNOWN_TASKS}"),
            ],
        ),
        (
            doc(when="{metadata: {a: 1}}"),
            [("default.when.metadata", "must map strings to strings")],
        ),
        (
            doc(when="{metadata: {1: a}}"),
            [("default.when.metadata", "must map strings to strings")],
        ),
        (doc(when="{metadata: 5}"), [("default.when.metadata", "must map strings to strings")]),
        (
            doc(when="{min_prompt_tokens: 5, max_prompt_tokens: 4}"),
            [("default.when.min_prompt_tokens", "must not exceed max_prompt_tokens")],
        ),
        (
            doc(when="{tiers: ['', x]}"),
            [("default.when.tiers", "must be a list of non-empty strings")],
        ),
        (
            doc(when="{feature_flags: [x, 1]}"),
            [("default.when.feature_flags", "must be a list of non-empty strings")],
        ),
        (
            doc(when="{task_types: {a: b}}"),
            [("default.when.task_types", "must be a list of non-empty strings")],
        ),
        (
            doc("rules: [{name: d, strategy: {kind: single, model: a}}]"),
            [("rules", "rule name 'd' is used more than once")],
        ),
        (
            doc("degrade: {static_answer: 5, human_review: yes please}"),
            [
                ("degrade.static_answer", "must be a string"),
                ("degrade.human_review", "must be true or false"),
            ],
        ),
        (doc("degrade: {colour: red}"), [("degrade.colour", "unknown field")]),
        (
            doc("slo_ms: 2000\nmax_deadline_ms: 1999"),
            [("slo_ms", "must not exceed max_deadline_ms")],
        ),
        (
            doc(
                "breaker: {window_size: 4, minimum_calls: 5, open_wait_ms: 10, max_open_wait_ms: 9}"
            ),
            [
                ("breaker.minimum_calls", "must not exceed window_size"),
                ("breaker.open_wait_ms", "must not exceed max_open_wait_ms"),
            ],
        ),
    ],
)
def test_each_problem_is_one_exact_violation(source: str, expected: list) -> None:
    """Each kind of problem is reported once, at its path, with a message that says what to
    fix, and nothing else is reported."""
    assert problems(source) == expected


def test_edges_that_are_accepted() -> None:
    """Limits are inclusive: 8 stages, 32 checks, slo equal to the deadline cap, min equal
    to max prompt tokens, minimum_calls equal to the window, open wait equal to its cap,
    a single tier given as a string, a shorthand model."""
    stages = ", ".join(f"{{model: m{i}}}" for i in range(8))
    policy = parse_policy(
        "name: p\nslo_ms: 100\nmax_deadline_ms: 100\n"
        "breaker: {window_size: 5, minimum_calls: 5, open_wait_ms: 9, max_open_wait_ms: 9}\n"
        "checks: [" + ", ".join(["{name: non_empty}"] * 32) + "]\n"
        "rules: [{name: r, when: {tiers: pro, min_prompt_tokens: 7, max_prompt_tokens: 7},"
        " strategy: {kind: single, model: a}}]\n"
        f"default: {{name: d, strategy: {{kind: cascade, stages: [{stages}]}}}}"
    )
    assert len(policy.default.strategy.stages) == 8 and len(policy.default.checks) == 32
    assert policy.slo_ms == policy.max_deadline_ms == 100
    assert policy.rules[0].when.tiers == {"pro"}
    assert policy.rules[0].strategy == Strategy("single", (Stage("a"),))
    assert policy.breaker.minimum_calls == policy.breaker.window_size == 5


def test_rule_count_is_limited() -> None:
    """At most 256 rules: 256 parse, 257 are refused."""
    rule = "{{name: r{i}, strategy: {{kind: single, model: a}}}}"
    for count, ok in ((256, True), (257, False)):
        source = (
            "name: p\nrules: ["
            + ", ".join(rule.format(i=i) for i in range(count))
            + f"]\n{DEFAULT_RULE}"
        )
        if ok:
            assert len(parse_policy(source).rules) == count
        else:
            assert problems(source) == [("rules", "at most 256 entries")]


def test_source_size_is_limited() -> None:
    """A document of exactly 256 KiB parses; one byte more is refused before parsing."""
    head = f"name: p\n{DEFAULT_RULE}\n#"
    exact = head + "x" * (MAX_SOURCE_BYTES - len(head) - 1) + "\n"
    assert len(exact.encode()) == MAX_SOURCE_BYTES
    assert parse_policy(exact).name == "p"
    assert problems(exact + "#") == [("source", f"larger than {MAX_SOURCE_BYTES} bytes")]


def test_invalid_yaml_names_the_parse_error() -> None:
    """A YAML syntax error is one violation on `source` quoting the parser's message."""
    ((field, description),) = problems("name: [unclosed")
    assert field == "source" and description.startswith("not valid YAML: while parsing")


def test_missing_strategy_with_known_models_is_one_violation() -> None:
    """A rule without a strategy is reported once, also when models are checked."""
    assert problems("name: p\ndefault: {name: d}", known_models={"a"}) == [
        ("default.strategy", "is required")
    ]


def test_unknown_models_are_named_per_stage_and_rule() -> None:
    """With known_models, each unknown model is reported at its rule's stage path."""
    source = (
        "name: p\nrules: [{name: r, strategy: {kind: single, model: x}}]\n"
        "default: {name: d, strategy: {kind: cascade, stages: [{model: a}, {model: y}]}}"
    )
    assert problems(source, known_models={"a"}) == [
        ("rules[0].strategy.stages[0].model", "unknown model 'x'"),
        ("default.strategy.stages[1].model", "unknown model 'y'"),
    ]
    assert parse_policy(source, known_models={"a", "x", "y"}).name == "p"
