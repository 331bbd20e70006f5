"""Policy YAML → `Policy`, collecting one field violation per problem.

Every problem is reported at once with its path (`rules[2].strategy.stages[0].model`)
so an operator fixes a document in one pass; nothing partial is ever returned.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import yaml

from switchyard.checks import CheckSpec, validate_specs
from switchyard.policy.budgets import read_rule_cache, read_stale_cache, read_tenants
from switchyard.policy.ensembles import ENSEMBLE_FIELDS, check_ensemble_rule, read_ensemble
from switchyard.policy.model import (
    STRATEGY_KINDS,
    BreakerPolicy,
    CheckRef,
    Conditions,
    Degrade,
    Policy,
    RetryAdjustments,
    RetrySettings,
    Rule,
    Stage,
    Strategy,
)
from switchyard.policy.rate_limits import read_rate_limits
from switchyard.policy.reader import FieldReader
from switchyard.policy.selectors import SELECTOR_FIELDS, read_predictor, read_selector
from switchyard.runtime.errors import FieldViolation, InvalidArgument
from switchyard.tasks import TASK_TYPES

# Finite by construction: bounded stages and retries keep every chain short.
MAX_STAGES = 8
MAX_RETRIES = 5
MAX_RULES = 256
MAX_SOURCE_BYTES = 256 * 1024


def _check(r: FieldReader, node: Any, path: str) -> CheckRef:
    m = r.mapping(node, path, ("name", "params"))
    params = m.get("params") or {}
    if not isinstance(params, Mapping):
        r.fail(f"{path}.params", "must be a mapping")
        params = {}
    return CheckRef(name=r.string(m, "name", path, required=True), params=dict(params))


def _stage(r: FieldReader, node: Any, path: str) -> Stage:
    m = r.mapping(node, path, ("model", "max_retries", "timeout_ms", "min_score"))
    min_score = m.get("min_score")
    return Stage(
        model=r.string(m, "model", path, required=True),
        max_retries=r.integer(m, "max_retries", path, None, low=0, high=MAX_RETRIES),
        timeout_ms=r.integer(m, "timeout_ms", path, None, low=1, high=600_000),
        min_score=None
        if min_score is None
        else r.number(m, "min_score", path, 0.0, low=0.0, high=1.0),
    )


def _strategy(r: FieldReader, node: Any, path: str) -> Strategy:
    m = r.mapping(
        node, path, ("kind", "model", "models", "stages", *SELECTOR_FIELDS, *ENSEMBLE_FIELDS)
    )
    if not m:
        r.fail(path, "is required")
        return Strategy(kind="single", stages=())
    selector_kind = m.get("selector", "static")
    chooses = selector_kind in ("score", "auto")
    # score picks one model (with fallbacks), auto a cascade: the kind is implied.
    implied = {"score": "single", "auto": "cascade"}.get(selector_kind, "")
    kind = r.string(m, "kind", path, required=not implied) or implied
    if kind and kind not in STRATEGY_KINDS:
        r.fail(f"{path}.kind", f"unknown strategy {kind!r}; expected one of {list(STRATEGY_KINDS)}")
    stages = r.each(m, "stages", path, lambda n, p: _stage(r, n, p), limit=MAX_STAGES)
    shorthand = [k for k in ("model", "models") if k in m]
    if (shorthand and stages) or len(shorthand) > 1:
        r.fail(f"{path}.{shorthand[-1]}", "give one of model, models or stages")
    if "model" in m:  # `model: x` is shorthand for one stage
        stages = [Stage(model=r.string(m, "model", path, required=True))]
    if "models" in m:  # `models: [a, b]`: stages with the policy's retry settings
        raw = m["models"]
        names = raw if isinstance(raw, list) and all(isinstance(x, str) and x for x in raw) else []
        if not names:
            r.fail(f"{path}.models", "must be a non-empty list of model ids")
        if len(names) > MAX_STAGES:
            r.fail(f"{path}.models", f"at most {MAX_STAGES} entries")
        stages = [Stage(model=name) for name in names[:MAX_STAGES]]
    selector = read_selector(r, m, path, len(stages))
    ensemble = read_ensemble(r, m, path, kind, len(stages))
    if not chooses and kind == "single" and len(stages) != 1:
        r.fail(path, "a single strategy names exactly one model")
    if not chooses and kind == "cascade" and len(stages) < 2:
        r.fail(f"{path}.stages", "a cascade needs at least two stages")
    models = [s.model for s in stages]
    if len(set(models)) != len(models):
        r.fail(f"{path}.stages", "a model may appear only once in a chain")
    return Strategy(
        kind=kind if kind in STRATEGY_KINDS else "single",  # type: ignore[arg-type]
        stages=tuple(stages),
        selector=selector,
        **ensemble,
    )


def _conditions(r: FieldReader, node: Any, path: str) -> Conditions:
    m = r.mapping(
        node,
        path,
        (
            "task_types",
            "tiers",
            "min_prompt_tokens",
            "max_prompt_tokens",
            "metadata",
            "feature_flags",
            "response_format",
        ),
    )
    response_format = m.get("response_format")
    if response_format is not None and response_format not in ("text", "json_object"):
        r.fail(f"{path}.response_format", "must be text or json_object")
        response_format = None
    task_types = r.strings(m, "task_types", path)
    for task in sorted(task_types - TASK_TYPES):
        r.fail(f"{path}.task_types", f"unknown task type {task!r}; known: {sorted(TASK_TYPES)}")
    metadata = m.get("metadata") or {}
    if not isinstance(metadata, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        r.fail(f"{path}.metadata", "must map strings to strings")
        metadata = {}
    low = r.integer(m, "min_prompt_tokens", path, None, low=0, high=10_000_000)
    high = r.integer(m, "max_prompt_tokens", path, None, low=0, high=10_000_000)
    if low is not None and high is not None and low > high:
        r.fail(f"{path}.min_prompt_tokens", "must not exceed max_prompt_tokens")
    return Conditions(
        task_types=task_types,
        tiers=r.strings(m, "tiers", path),
        min_prompt_tokens=low,
        max_prompt_tokens=high,
        metadata=dict(metadata),
        feature_flags=r.strings(m, "feature_flags", path),
        response_format=response_format,
    )


def _rule(r: FieldReader, node: Any, path: str, default_checks: tuple[CheckRef, ...]) -> Rule:
    m = r.mapping(
        node, path, ("name", "when", "strategy", "checks", "min_score", "escalate_gain", "cache")
    )
    checks = r.each(m, "checks", path, lambda n, p: _check(r, n, p), limit=32)
    rule = Rule(
        name=r.string(m, "name", path, required=True),
        when=_conditions(r, m.get("when"), f"{path}.when"),
        strategy=_strategy(r, m.get("strategy"), f"{path}.strategy"),
        checks=tuple(checks) if "checks" in m else default_checks,
        min_score=r.number(m, "min_score", path, 0.0, low=0.0, high=1.0),
        cache=read_rule_cache(r, m.get("cache"), f"{path}.cache"),
        escalate_gain=_escalate_gain(r, m, path),
    )
    check_ensemble_rule(r, rule, path)
    if rule.escalate_gain is not None and not _escalates(rule.strategy):
        r.fail(
            f"{path}.escalate_gain",
            "applies to rules that escalate: a cascade, or a score selector with fallbacks",
        )
    return rule


def _escalate_gain(r: FieldReader, m: dict[str, Any], path: str) -> float | None:
    if m.get("escalate_gain") is None:
        return None
    return r.number(m, "escalate_gain", path, 0.0, low=-1.0, high=1.0)


def _escalates(strategy: Strategy) -> bool:
    if strategy.kind == "cascade":
        return True
    return strategy.selector.kind == "score" and strategy.selector.max_fallbacks > 0


def _adjust(r: FieldReader, node: Any, path: str) -> RetryAdjustments:
    m = r.mapping(node, path, ("temperature_factor", "max_tokens_factor", "stop"))
    base = RetryAdjustments()
    stop = m.get("stop") or []
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        r.fail(f"{path}.stop", "must be a list of non-empty strings")
        stop = []
    if len(stop) > 4:  # the OpenAI API's limit
        r.fail(f"{path}.stop", "at most 4 stop sequences")
        stop = stop[:4]
    return RetryAdjustments(
        temperature_factor=r.number(
            m, "temperature_factor", path, base.temperature_factor, low=0.0, high=1.0
        ),
        max_tokens_factor=r.number(
            m, "max_tokens_factor", path, base.max_tokens_factor, low=0.1, high=1.0
        ),
        stop=tuple(stop),
    )


def _retry(r: FieldReader, node: Any, path: str) -> RetrySettings:
    m = r.mapping(
        node,
        path,
        (
            "max_retries",
            "base_backoff_ms",
            "max_backoff_ms",
            "throttle_max_tokens",
            "throttle_token_ratio",
            "adjust",
        ),
    )
    base = RetrySettings()
    return RetrySettings(
        max_retries=r.integer(m, "max_retries", path, base.max_retries, low=0, high=MAX_RETRIES),
        base_backoff_ms=r.integer(
            m, "base_backoff_ms", path, base.base_backoff_ms, low=0, high=60_000
        ),
        max_backoff_ms=r.integer(
            m, "max_backoff_ms", path, base.max_backoff_ms, low=0, high=60_000
        ),
        throttle_max_tokens=r.number(
            m, "throttle_max_tokens", path, base.throttle_max_tokens, low=1, high=1000
        ),
        throttle_token_ratio=r.number(
            m, "throttle_token_ratio", path, base.throttle_token_ratio, low=0.0, high=1.0
        ),
        adjust=_adjust(r, m.get("adjust"), f"{path}.adjust"),
    )


def _breaker(r: FieldReader, node: Any, path: str) -> BreakerPolicy:
    base = BreakerPolicy()
    m = r.mapping(node, path, tuple(base.__dataclass_fields__))
    ints = {
        name: r.integer(m, name, path, getattr(base, name), low=1, high=high)
        for name, high in (
            ("window_size", 10_000),
            ("minimum_calls", 10_000),
            ("slow_call_ms", 600_000),
            ("open_wait_ms", 3_600_000),
            ("max_open_wait_ms", 3_600_000),
            ("half_open_calls", 1_000),
            ("ramp_up_ms", 3_600_000),
        )
    }
    rates = {
        name: r.number(m, name, path, getattr(base, name), low=0.01, high=1.0)
        for name in ("failure_rate_threshold", "slow_call_rate_threshold")
    }
    if ints["minimum_calls"] > ints["window_size"]:
        r.fail(f"{path}.minimum_calls", "must not exceed window_size")
    if ints["open_wait_ms"] > ints["max_open_wait_ms"]:
        r.fail(f"{path}.open_wait_ms", "must not exceed max_open_wait_ms")
    return BreakerPolicy(**ints, **rates)


def parse_policy(source: str, *, known_models: Collection[str] | None = None) -> Policy:
    """Parse and validate a policy document; raise InvalidArgument listing every problem.

    `known_models`, when given, must contain every model the policy references.
    """
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise InvalidArgument([FieldViolation("source", f"larger than {MAX_SOURCE_BYTES} bytes")])
    try:
        document = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise InvalidArgument([FieldViolation("source", f"not valid YAML: {exc}")]) from exc
    r = FieldReader()
    top = r.mapping(
        document if document is not None else None,
        "",
        (
            "name",
            "slo_ms",
            "max_deadline_ms",
            "budget_micros",
            "retry",
            "breaker",
            "checks",
            "degrade",
            "rules",
            "default",
            "predictor",
            "tenants",
            "rate_limits",
        ),
    )
    if not top and not r.violations:
        r.fail("source", "the policy document is empty")
    default_checks = tuple(r.each(top, "checks", "", lambda n, p: _check(r, n, p), limit=32))
    rules = r.each(top, "rules", "", lambda n, p: _rule(r, n, p, default_checks), limit=MAX_RULES)
    if "default" not in top:
        r.fail("default", "is required: the rule used when no other rule matches")
    default = _rule(r, top.get("default"), "default", default_checks)
    names = [rule.name for rule in (*rules, default)]
    for dup in sorted({n for n in names if n and names.count(n) > 1}):
        r.fail("rules", f"rule name {dup!r} is used more than once")
    degrade_node = r.mapping(
        top.get("degrade"), "degrade", ("static_answer", "human_review", "stale_cache")
    )
    static = degrade_node.get("static_answer")
    if static is not None and not isinstance(static, str):
        r.fail("degrade.static_answer", "must be a string")
        static = None
    human_review = degrade_node.get("human_review", False)
    if not isinstance(human_review, bool):
        r.fail("degrade.human_review", "must be true or false")
        human_review = False
    slo = r.integer(top, "slo_ms", "", 5000, low=1, high=600_000)
    max_deadline = r.integer(top, "max_deadline_ms", "", 30_000, low=1, high=600_000)
    if slo > max_deadline:
        r.fail("slo_ms", "must not exceed max_deadline_ms")
    policy = Policy(
        name=r.string(top, "name", "", required=True) if top else "",
        rules=tuple(rules),
        default=default,
        slo_ms=slo,
        max_deadline_ms=max_deadline,
        budget_micros=r.integer(top, "budget_micros", "", 50_000, low=1, high=10**12),
        retry=_retry(r, top.get("retry"), "retry"),
        breaker=_breaker(r, top.get("breaker"), "breaker"),
        degrade=Degrade(
            static_answer=static,
            human_review=human_review,
            stale_cache=read_stale_cache(r, degrade_node, "degrade"),
        ),
        predictor=read_predictor(r, top.get("predictor"), "predictor"),
        tenants=read_tenants(r, top.get("tenants"), "tenants"),
        rate_limits=read_rate_limits(r, top.get("rate_limits"), "rate_limits"),
    )
    if known_models is not None:
        known = set(known_models)
        for i, rule in enumerate(policy.all_rules):
            where = f"rules[{i}]" if i < len(policy.rules) else "default"
            for j, model in enumerate(rule.strategy.models):
                if model and model not in known:
                    r.fail(f"{where}.strategy.stages[{j}].model", f"unknown model {model!r}")
    for i, rule in enumerate(policy.all_rules):
        where = f"rules[{i}]" if i < len(policy.rules) else "default"
        _validate_checks(r, rule, f"{where}.checks")
        if rule.strategy.selector.strong_share is not None and policy.predictor is None:
            r.fail(
                f"{where}.strategy.strong_share",
                "needs the policy's predictor: the share goes to the requests where the "
                "dearest model's predicted gain is largest",
            )
    if r.violations:
        raise InvalidArgument(r.violations)
    return policy


def _validate_checks(r: FieldReader, rule: Rule, path: str) -> None:
    """Unknown checks or bad parameters are caught at publish time, not per request."""
    specs = [CheckSpec(c.name, dict(c.params)) for c in rule.checks if c.name]
    try:
        validate_specs(specs, field_prefix=path)
    except InvalidArgument as exc:
        r.violations.extend(exc.violations)
