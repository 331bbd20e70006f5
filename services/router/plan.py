"""The values a routing plan is made of: the request in domain terms, candidates with
their expected figures and drop reasons, the cascades weighed, the plan itself.

Selectors (`services/router/selection/`) make plans; executors run them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from services.router.fleet import ModelProfile
from services.router.providers.base import ChatTurn
from switchyard.policy import RequestFacts, Rule, Stage
from switchyard.tasks import DEFAULT_TASK_TYPE

# Without a measured quality for a task, assume a middling acceptance rate.
DEFAULT_ACCEPT_PROBABILITY = 0.8
DEFAULT_LATENCY_MS = 1000


@dataclass(frozen=True)
class RouteInput:
    """A validated Route() request in domain terms."""

    messages: tuple[ChatTurn, ...]
    task_type: str = DEFAULT_TASK_TYPE
    tenant: str = ""
    tier: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    feature_flags: frozenset[str] = frozenset()
    max_output_tokens: int = 512
    latency_slo_ms: int = 0
    budget_micros: int = 0
    json_mode: bool = False
    idempotency_key: str = ""
    prompt_tokens: int = 0

    @property
    def facts(self) -> RequestFacts:
        return RequestFacts(
            task_type=self.task_type,
            tier=self.tier,
            prompt_tokens=self.prompt_tokens,
            metadata=self.metadata,
            feature_flags=self.feature_flags,
            json_mode=self.json_mode,
        )

    @property
    def prompt(self) -> str:
        """The last user turn: what verification judges the answer against."""
        for turn in reversed(self.messages):
            if turn.role == "user":
                return turn.content
        return self.messages[-1].content if self.messages else ""


class DropReason(enum.StrEnum):
    NONE = "none"
    UNKNOWN_MODEL = "unknown_model"
    HEALTH = "health"
    CONTEXT = "context"
    CAPABILITY = "capability"
    BREAKER = "breaker"
    BUDGET = "budget"
    DEADLINE = "deadline"
    # Eligible, but a score/auto selector chose other models.
    NOT_CHOSEN = "not_chosen"


@dataclass(frozen=True)
class Candidate:
    stage_index: int
    stage: Stage
    model_id: str
    kept: bool
    reason: str
    profile: ModelProfile | None = None
    max_cost_micros: int = 0
    expected_latency_ms: int = 0
    accept_probability: float = DEFAULT_ACCEPT_PROBABILITY
    drop: DropReason = DropReason.NONE
    # Where accept_probability came from: "predictor", "registry" or "default".
    quality_source: str = "registry"
    # The score selector's figure for this candidate (None for other selectors).
    score: float | None = None
    # P(this stage ends with an accepted answer): the online estimate seeded with
    # accept_probability (equal to it before any outcome). It sets P(reach next stage).
    acceptance: float | None = None
    # Outcomes behind `acceptance`, and the measured p95 latency (0: none yet).
    outcomes_seen: int = 0
    measured_latency_p95_ms: int = 0

    @property
    def stage_acceptance(self) -> float:
        return self.accept_probability if self.acceptance is None else self.acceptance

    def evolve(self, **changes: Any) -> Candidate:
        """`dataclasses.replace` without re-running `__init__`: score and auto plans copy
        candidates several times per request, and replace() was a third of such a plan's
        time. Every field of `self` is valid already; a name that is not a field is an
        error, as with replace()."""
        if not changes.keys() <= _CANDIDATE_FIELDS:
            raise TypeError(f"not Candidate fields: {sorted(changes.keys() - _CANDIDATE_FIELDS)}")
        copy = object.__new__(Candidate)
        copy.__dict__.update(self.__dict__, **changes)
        return copy


_CANDIDATE_FIELDS = frozenset(f.name for f in fields(Candidate))


@dataclass(frozen=True)
class CascadeOption:
    """One chain the auto selector weighed, with its expected figures."""

    model_ids: tuple[str, ...]
    expected_cost_micros: int
    expected_latency_ms: int
    expected_quality: float
    chosen: bool
    reason: str


@dataclass(frozen=True)
class RoutePlan:
    rule: Rule
    candidates: tuple[Candidate, ...]
    budget_micros: int
    expected_cost_micros: int
    expected_latency_ms: int
    # The latency target (request's, else policy's): reported and logged against, while
    # the deadline is what bounds execution.
    slo_ms: int = 0
    selector: str = "static"
    # P(an acceptable answer) of the chain: 1 - Π(1 - q_i) when each stage's answer is
    # judged by a verifier that accepts exactly the acceptable answers.
    expected_quality: float = 0.0
    # auto: the cascades it enumerated; empty for other selectors.
    cascades: tuple[CascadeOption, ...] = ()
    # False when no chain reached the rule's quality floor and the best was taken.
    quality_floor_met: bool = True
    # Every allowed model's breaker was open: the chain holds them anyway (panic mode).
    panic: bool = False
    # A `strong_share` rule: the dearest model's predicted gain over the best other,
    # which the router adds to the rule's window once the request is routed.
    strong_gain: float | None = None

    @property
    def meets_slo(self) -> bool:
        return self.expected_latency_ms <= self.slo_ms

    @property
    def chain(self) -> tuple[Candidate, ...]:
        return tuple(c for c in self.candidates if c.kept)

    def score_bars(self) -> dict[int, float]:
        """The verifier score each chain entry's answer needs, by stage index: what its
        executor asks the verifier for, and what Plan() shows. Ensembles hold every
        member to the rule's min_score; a hedge's stages and a cascade's follow
        `Rule.min_score_for`, and a cascade's also `escalate_gain` (`Rule.bar_for`)."""
        rule, chain = self.rule, self.chain
        kind = rule.strategy.kind
        bars: dict[int, float] = {}
        for i, c in enumerate(chain):
            following = chain[i + 1] if i + 1 < len(chain) else None
            if kind in ("parallel", "vote"):
                bars[c.stage_index] = rule.min_score
            elif kind == "hedge":
                bars[c.stage_index] = rule.min_score_for(c.stage, last=following is None)
            else:
                bars[c.stage_index] = rule.bar_for(
                    c.stage,
                    last=following is None,
                    next_quality=following.accept_probability if following else None,
                )
        return bars


def output_tokens_for(profile: ModelProfile, requested: int) -> int:
    limit = profile.max_output_tokens or requested
    return min(requested, limit) if requested else limit
