"""Policy YAML for the strategies that call several models per request: `parallel`,
`vote` and `hedge`. Their settings sit on the strategy beside `kind` and `models`:

    strategy: {kind: parallel, models: [a, b, c], fan_out: 3, accept_score: 0.9}
    strategy: {kind: vote, models: [a, b, c], weighting: confidence, tie_break: score}
    strategy: {kind: hedge, models: [a, b], delay_ms: 300, delay_percentile: p95,
               cap: {share: 0.1, micros: 20000, window_ms: 60000}}

Their members are the static chain (no score/auto selector): planning's hard filters
drop what cannot serve, and the first `fan_out` kept members run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchyard.policy.model import (
    VOTING_TASK_TYPES,
    HedgeCap,
    HedgeSettings,
    ParallelSettings,
    Rule,
    VoteSettings,
)
from switchyard.policy.reader import FieldReader, join

# Which strategy kinds each field belongs to.
ENSEMBLE_FIELD_KINDS: Mapping[str, tuple[str, ...]] = {
    "fan_out": ("parallel", "vote"),
    "accept_score": ("parallel",),
    "weighting": ("vote",),
    "tie_break": ("vote",),
    "min_agreement": ("vote",),
    "delay_ms": ("hedge",),
    "delay_percentile": ("hedge",),
    "cap": ("hedge",),
}
ENSEMBLE_FIELDS = tuple(ENSEMBLE_FIELD_KINDS)
MAX_HEDGE_DELAY_MS = 600_000
MAX_HEDGE_WINDOW_MS = 86_400_000


def read_ensemble(
    r: FieldReader, m: Mapping[str, Any], path: str, kind: str, n_models: int
) -> dict[str, Any]:
    """The `parallel` / `vote` / `hedge` keyword arguments of a Strategy of `kind`."""
    for key, kinds in ENSEMBLE_FIELD_KINDS.items():
        if key in m and kind not in kinds:
            r.fail(join(path, key), f"only for {' and '.join(kinds)} strategies")
    if kind not in ("parallel", "vote", "hedge"):
        return {}
    if n_models < 2:
        r.fail(join(path, "models"), f"a {kind} strategy needs at least two models")
    if kind == "hedge":
        return {"hedge": _hedge(r, m, path)}
    fan_out = _fan_out(r, m, path, n_models)
    if kind == "parallel":
        accept = m.get("accept_score")
        if accept is not None:
            accept = r.number(m, "accept_score", path, 1.0, low=0.0, high=1.0)
        return {"parallel": ParallelSettings(fan_out=fan_out, accept_score=accept)}
    return {"vote": _vote(r, m, path, fan_out)}


def _fan_out(r: FieldReader, m: Mapping[str, Any], path: str, n_models: int) -> int:
    wanted = r.integer(m, "fan_out", path, max(n_models, 2), low=2, high=8)
    if n_models >= 2 and wanted > n_models:
        r.fail(join(path, "fan_out"), f"{wanted} is wider than the {n_models} allowed models")
        return n_models
    return wanted


def _vote(r: FieldReader, m: Mapping[str, Any], path: str, fan_out: int) -> VoteSettings:
    weighting = m.get("weighting", "majority")
    if weighting not in ("majority", "confidence"):
        r.fail(join(path, "weighting"), "must be majority or confidence")
        weighting = "majority"
    tie_break = m.get("tie_break", "order")
    if tie_break not in ("order", "score", "none"):
        r.fail(join(path, "tie_break"), "must be order, score or none")
        tie_break = "order"
    return VoteSettings(
        fan_out=fan_out,
        weighting=weighting,
        tie_break=tie_break,
        min_agreement=r.number(m, "min_agreement", path, 0.0, low=0.0, high=1.0),
    )


def _positive_int(r: FieldReader, m: Mapping[str, Any], key: str, path: str, high: int) -> int:
    value = m.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
        r.fail(join(path, key), "must be positive (> 0)")
        return 1
    return r.integer(m, key, path, 0, low=1, high=high)


def _hedge(r: FieldReader, m: Mapping[str, Any], path: str) -> HedgeSettings:
    if "delay_ms" not in m:
        r.fail(join(path, "delay_ms"), "is required: how long the first model has to answer")
    delay = _positive_int(r, m, "delay_ms", path, MAX_HEDGE_DELAY_MS) or 1
    percentile = m.get("delay_percentile")
    if percentile is not None and percentile not in ("p50", "p90", "p95", "p99"):
        r.fail(join(path, "delay_percentile"), "must be p50, p90, p95 or p99")
        percentile = None
    cap_path = join(path, "cap")
    if "cap" not in m:
        r.fail(cap_path, "is required: the share of requests and the spend hedging may add")
    c = r.mapping(m.get("cap"), cap_path, ("share", "micros", "window_ms"))
    share = c.get("share")
    if share is None:
        if "cap" in m:
            r.fail(join(cap_path, "share"), "is required: the share of requests hedged, 0..1")
        share = 1.0
    elif isinstance(share, int | float) and not isinstance(share, bool) and share <= 0:
        r.fail(join(cap_path, "share"), "must be positive (> 0): 0 would never hedge")
        share = 1.0
    else:
        share = r.number(c, "share", cap_path, 1.0, low=0.0, high=1.0)
    if "cap" in m and "micros" not in c:
        r.fail(join(cap_path, "micros"), "is required: hedge spend per window, micro-USD")
    micros = _positive_int(r, c, "micros", cap_path, 10**12) or 1
    window = _positive_int(r, c, "window_ms", cap_path, MAX_HEDGE_WINDOW_MS) or 60_000
    return HedgeSettings(
        delay_ms=delay,
        cap=HedgeCap(share=float(share), micros=micros, window_ms=window),
        delay_percentile=percentile,
    )


def check_ensemble_rule(r: FieldReader, rule: Rule, path: str) -> None:
    """Rule-level constraints: ensembles run the static chain; a vote rule may only match
    requests whose answers can be compared (a label or a JSON value)."""
    strategy = rule.strategy
    if strategy.kind not in ("parallel", "vote", "hedge"):
        return
    if strategy.selector.kind != "static":
        r.fail(
            join(path, "strategy.selector"),
            f"a {strategy.kind} strategy runs its models as listed (static selector only)",
        )
    if strategy.kind != "vote":
        return
    when = rule.when
    json_only = when.response_format == "json_object"
    label_tasks = bool(when.task_types) and when.task_types <= VOTING_TASK_TYPES
    if not (json_only or label_tasks):
        free = sorted(when.task_types - VOTING_TASK_TYPES) or ["any task type"]
        r.fail(
            join(path, "strategy.kind"),
            f"vote needs comparable answers, but this rule matches {', '.join(free)}: "
            f"restrict it with when.task_types to {sorted(VOTING_TASK_TYPES)} or with "
            "when.response_format: json_object",
        )
