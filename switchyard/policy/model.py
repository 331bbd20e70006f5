"""The routing policy as immutable values: rules, strategies, stages, settings.

A `Policy` is built only by `parse_policy`, which validates everything first, so
code holding one can trust it: every chain is finite and every number in range.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from switchyard.policy.budgets import RuleCache, TenantLimits
from switchyard.policy.rate_limits import RateLimits

StrategyKind = Literal["single", "cascade", "parallel", "vote", "hedge"]
STRATEGY_KINDS: tuple[str, ...] = ("single", "cascade", "parallel", "vote", "hedge")
# Strategies that call several models for one request (switchyard/policy/ensembles.py).
ENSEMBLE_KINDS: tuple[str, ...] = ("parallel", "vote", "hedge")
# Task types whose answers can be compared for a vote (a label, a JSON value, a maths
# final answer); free text (chat, summarization, code, reasoning) has no canonical form.
VOTING_TASK_TYPES: frozenset[str] = frozenset({"classification", "extraction", "math"})
ResponseFormat = Literal["text", "json_object"]
VoteWeighting = Literal["majority", "confidence"]
VoteTieBreak = Literal["order", "score", "none"]
HedgePercentile = Literal["p50", "p90", "p95", "p99"]
SelectorKind = Literal["static", "score", "auto"]
SELECTOR_KINDS: tuple[str, ...] = ("static", "score", "auto")
LatencyPercentile = Literal["p50", "p95"]


@dataclass(frozen=True)
class RequestFacts:
    """What rule conditions may look at; derived from a request without calling a model."""

    task_type: str
    tier: str
    prompt_tokens: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    feature_flags: frozenset[str] = frozenset()
    json_mode: bool = False


@dataclass(frozen=True)
class CheckRef:
    """A verifier check a rule asks for, by name, with its parameters.

    Hashable (by a canonical JSON key computed once) so compiled check sets can be
    cached per rule on the request path.
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    _key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = json.dumps([self.name, self.params], sort_keys=True, default=str)
        object.__setattr__(self, "_key", key)

    def __hash__(self) -> int:
        return hash(self._key)


@dataclass(frozen=True)
class RetryAdjustments:
    """How a retry's call differs from the attempt before it: the temperature and the
    output-token limit are multiplied by their factors (per retry), and `stop` sequences
    are added from the first retry on. The first attempt uses the request as sent."""

    temperature_factor: float = 0.5
    max_tokens_factor: float = 1.0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetrySettings:
    max_retries: int = 1
    base_backoff_ms: int = 25
    max_backoff_ms: int = 1000
    # gRFC A6 retry throttling: a token bucket of `max_tokens`, each failure costs 1,
    # each success refunds `token_ratio`; retries stop while the bucket is at half or less.
    throttle_max_tokens: float = 10.0
    throttle_token_ratio: float = 0.1
    adjust: RetryAdjustments = RetryAdjustments()


@dataclass(frozen=True)
class Stage:
    model: str
    # None: the policy's retry.max_retries.
    max_retries: int | None = None
    # None: cut from what remains of the deadline.
    timeout_ms: int | None = None
    # Verifier score this stage's answer needs; None: the rule's min_score, except on
    # the last stage of a multi-stage chain (see `Rule.min_score_for`).
    min_score: float | None = None


@dataclass(frozen=True)
class ScoreWeights:
    """`score` ranks by quality·q − cost·c̃ − latency·l̃, where c̃ is the candidate's
    worst-case cost over the dearest eligible candidate's (0..1) and l̃ its latency over
    the SLO: cost 0.5 means the dearest model must be worth half a quality point more
    than a free one."""

    quality: float = 1.0
    cost: float = 0.5
    latency: float = 0.1


@dataclass(frozen=True)
class Selector:
    """How a rule turns its allowed models into a chain: `static` runs the stages as
    written; `score` ranks them by ScoreWeights (or takes the cheapest whose predicted
    quality reaches `min_quality`), keeping `max_fallbacks` behind the pick; `auto`
    picks the cheapest cascade of up to `max_depth` stages whose expected latency and
    cost meet the SLO and budget and whose expected quality reaches `min_quality`.

    `strong_share` (score only): the rule's dearest model goes first on that share of
    requests, the ones where its predicted gain over the best other model is largest
    among the rule's recent requests (services/router/selection/share.py)."""

    kind: SelectorKind = "static"
    weights: ScoreWeights = ScoreWeights()
    min_quality: float | None = None
    max_depth: int = 2
    max_fallbacks: int = 1
    latency_percentile: LatencyPercentile = "p95"
    strong_share: float | None = None


@dataclass(frozen=True)
class ParallelSettings:
    """Fan out to the first `fan_out` kept members at once; the verifier scores each
    answer and the best accepted one wins. An accepted answer scoring at least
    `accept_score` ends the fan-out at once (the rest are cancelled); None waits for
    every member unless an answer already has the top score (1.0)."""

    fan_out: int
    accept_score: float | None = None


@dataclass(frozen=True)
class VoteSettings:
    """Fan out to `fan_out` members; accepted answers are normalised into ballots and the
    heaviest group wins (`majority`: one vote each; `confidence`: each weighs its
    verifier score). Ties: `order` (the group holding the earliest-listed member),
    `score` (the higher mean score, then order) or `none` (a tie has no winner). A
    winner needs at least `min_agreement` of the weight cast."""

    fan_out: int
    weighting: VoteWeighting = "majority"
    tie_break: VoteTieBreak = "order"
    min_agreement: float = 0.0


@dataclass(frozen=True)
class HedgeCap:
    """Per rule and router, per window of `window_ms`: at most `share` of the window's
    requests hedged, and at most `micros` of hedge spend (reserved at worst case)."""

    share: float
    micros: int
    window_ms: int = 60_000


@dataclass(frozen=True)
class HedgeSettings:
    """Send to the next member when the first has not answered after `delay_ms` (or,
    with `delay_percentile`, the first model's measured latency at that percentile,
    `delay_ms` until it has been measured). One hedge per request at most."""

    delay_ms: int
    cap: HedgeCap
    delay_percentile: HedgePercentile | None = None


@dataclass(frozen=True)
class Strategy:
    kind: StrategyKind
    # static: the chain as written; score/auto: the models they may choose from;
    # parallel/vote/hedge: the members, in preference order.
    stages: tuple[Stage, ...]
    selector: Selector = Selector()
    parallel: ParallelSettings | None = None
    vote: VoteSettings | None = None
    hedge: HedgeSettings | None = None

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(stage.model for stage in self.stages)


@dataclass(frozen=True)
class Conditions:
    """All present conditions must hold (AND); an absent condition matches anything."""

    task_types: frozenset[str] = frozenset()
    tiers: frozenset[str] = frozenset()
    min_prompt_tokens: int | None = None
    max_prompt_tokens: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    feature_flags: frozenset[str] = frozenset()
    response_format: ResponseFormat | None = None

    def matches(self, facts: RequestFacts) -> bool:
        if self.task_types and facts.task_type not in self.task_types:
            return False
        if self.tiers and facts.tier not in self.tiers:
            return False
        if self.min_prompt_tokens is not None and facts.prompt_tokens < self.min_prompt_tokens:
            return False
        if self.max_prompt_tokens is not None and facts.prompt_tokens > self.max_prompt_tokens:
            return False
        # A loop, not any(genexpr): every request runs this for each rule before its own.
        for key, value in self.metadata.items():
            if facts.metadata.get(key) != value:
                return False
        if self.response_format is not None and facts.json_mode != (
            self.response_format == "json_object"
        ):
            return False
        return self.feature_flags <= facts.feature_flags


@dataclass(frozen=True)
class Rule:
    name: str
    strategy: Strategy
    when: Conditions = Conditions()
    checks: tuple[CheckRef, ...] = ()
    # Minimum verifier quality score to accept; 0 skips the scorer.
    min_score: float = 0.0
    # Opt-in response cache for this rule's accepted answers (None: no caching).
    cache: RuleCache | None = None
    # Escalate also when the next stage's predicted P(acceptable) beats this answer's
    # verifier score by more than this (`bar_for`); None: the score bar alone.
    escalate_gain: float | None = None

    def bar_for(self, stage: Stage, *, last: bool, next_quality: float | None) -> float:
        """The score an answer needs to end the chain here: `min_score_for`, raised
        before the last stage to `next_quality - escalate_gain` when the rule sets
        `escalate_gain`. Escalating where the next model is expected to gain most, not
        only where this answer looks bad, uses the prompt predictor and the answer's
        score together (docs/routing.md#escalating-on-expected-gain)."""
        bar = self.min_score_for(stage, last=last)
        if self.escalate_gain is None or last or next_quality is None:
            return bar
        return max(bar, min(1.0, next_quality - self.escalate_gain))

    def min_score_for(self, stage: Stage, *, last: bool) -> float:
        """The score bar for a stage's answer. A score threshold decides escalation, and
        after the last stage of a cascade there is nowhere to escalate: that stage is
        held to its checks only, unless it sets its own min_score. (With the rule's bar
        on the last stage too, a scorer that rates the strong model's answers low turns
        them into degraded answers, worse than always using the weak model.) A lone
        stage (`single`) keeps the rule's bar."""
        if stage.min_score is not None:
            return stage.min_score
        if last and len(self.strategy.stages) > 1:
            return 0.0
        return self.min_score


@dataclass(frozen=True)
class BreakerPolicy:
    """Circuit-breaker settings every router applies to each model (resilience4j terms)."""

    window_size: int = 20
    minimum_calls: int = 10
    failure_rate_threshold: float = 0.5
    slow_call_rate_threshold: float = 1.0
    slow_call_ms: int = 10_000
    open_wait_ms: int = 5_000
    max_open_wait_ms: int = 60_000
    half_open_calls: int = 3
    ramp_up_ms: int = 10_000


@dataclass(frozen=True)
class Degrade:
    """What to do when every stage is exhausted.

    human_review files a ticket for a person to answer; static_answer is returned
    (flagged degraded); with neither, the request ends in a typed error.
    """

    static_answer: str | None = None
    human_review: bool = False
    # An expired answer from the rule's response cache beats the static answer or an error.
    stale_cache: bool = False


@dataclass(frozen=True)
class PredictorRef:
    """The learned quality predictor a policy's score/auto rules use: an artefact
    written by `switchyard train router`, checked by content hash when loaded."""

    artefact: str
    sha256: str = ""
    # Fleet model id -> the artefact's (dataset) model name; unlisted ids map to themselves.
    models: Mapping[str, str] = field(default_factory=dict)

    def artefact_model(self, model_id: str) -> str:
        return self.models.get(model_id, model_id)


@dataclass(frozen=True)
class Policy:
    name: str
    rules: tuple[Rule, ...]
    default: Rule
    # Target p95 latency for a request; also its deadline when the client sends none.
    slo_ms: int = 5000
    # Hard cap on any request's deadline, whatever the client asks.
    max_deadline_ms: int = 30000
    # Per-request budget when the client sends none.
    budget_micros: int = 50_000
    retry: RetrySettings = RetrySettings()
    breaker: BreakerPolicy = BreakerPolicy()
    degrade: Degrade = Degrade()
    predictor: PredictorRef | None = None
    # Per-tenant spend limits per window (empty: none).
    tenants: TenantLimits = field(default_factory=TenantLimits)
    # Per-tenant request rate limits, token buckets per router process (empty: none).
    rate_limits: RateLimits = field(default_factory=RateLimits)

    def match(self, facts: RequestFacts) -> Rule:
        """The first rule whose conditions hold, else the default rule."""
        for rule in self.rules:
            if rule.when.matches(facts):
                return rule
        return self.default

    @property
    def all_rules(self) -> tuple[Rule, ...]:
        return (*self.rules, self.default)
