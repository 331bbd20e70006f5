"""The router's own planning and execution, run in process for offline evaluation.

This is the one module of `switchyard.learning` that imports the router service's code
(services/router): `route_input` (request validation), `plan_route` with its selectors,
the learned predictor a policy names (`load_bound_predictor`), the online outcome
estimates, `RouteExecutor`, the breakers and the embedded verifier, wired as
services/router/app.py wires them. When their signatures change, this file is the one
to mend; evaluation sees only the neutral `RoutedRequest` below.

Time is virtual: the replay provider advances a `VirtualClock` by each answer's
recorded latency, so deadlines, per-stage timeouts and backoffs behave as they would
live without any waiting.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.router.artefacts import load_bound_predictor
from services.router.breakers import BreakerBoard, BreakerSettings
from services.router.estimates import OutcomeEstimates
from services.router.execution import RouteExecutor, RouteResult, Verdict
from services.router.fleet import FleetView, ModelProfile, profile_from_proto
from services.router.planning import RouteInput, RoutePlan, plan_route
from services.router.providers.base import Completion, CompletionRequest, Provider
from services.router.selection.share import ShareWindows
from services.router.validation import route_input
from services.router.verification import EmbeddedVerifier
from switchyard.checks.engine import PACKAGED, ScorerChoice
from switchyard.fleet import load_fleet
from switchyard.learning.dataset import DatasetRecord
from switchyard.policy import Policy
from switchyard.router.v1 import router_pb2
from switchyard.runtime.errors import InvalidArgument, SwitchyardError

__all__ = [
    "Call",
    "InProcessRouter",
    "ModelProfile",
    "RoutedRequest",
    "VirtualClock",
    "load_profiles",
    "route_request",
]


class VirtualClock:
    """Monotonic seconds that move only when a replayed call or a backoff says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)


def load_profiles(path: Path | str) -> list[ModelProfile]:
    """Model profiles from a fleet file (examples/fleet.yaml format), as the router
    holds them after the registry's watch stream."""
    return [profile_from_proto(model) for model in load_fleet(path)]


def route_request(record: DatasetRecord, *, max_output_tokens: int = 0) -> router_pb2.RouteRequest:
    """The Route() request a client would send for this record (also what
    --through-suite sends), so in-process and live runs validate the same input."""
    return router_pb2.RouteRequest(
        messages=[router_pb2.ChatMessage(role=m.role, content=m.content) for m in record.messages],
        task_type=record.task_type,
        tenant=record.tenant,
        tier=record.tier,
        metadata=dict(record.metadata),
        max_output_tokens=max_output_tokens,
    )


@dataclass(frozen=True)
class Call:
    """One attempt of the trace, in evaluation terms."""

    model_id: str
    stage: int
    outcome: str  # an Outcome value, or "skipped"
    verified: bool
    accepted: bool
    score: float
    latency_ms: float
    input_tokens: int
    output_tokens: int
    cost_micros: int

    @property
    def made(self) -> bool:
        return self.outcome != "skipped"


@dataclass(frozen=True)
class RoutedRequest:
    rule: str
    planned: tuple[str, ...]  # the chain planning kept, in order
    served_model: str  # "" for a static answer, a review ticket or an error
    degraded: bool
    calls: tuple[Call, ...]
    escalations: int
    error: str = ""  # the typed error's status code name (UNAVAILABLE, ...) when it failed
    # The plan's P(acceptable) per planned model, in chain order (an expected-gain
    # sweep's grid reads it: the next stage's figure against a stage's score).
    planned_quality: tuple[float, ...] = ()
    # auto: the expected quality of every cascade the selector weighed (a quality-floor
    # sweep's grid reads them: a floor changes a choice only where it crosses one).
    option_quality: tuple[float, ...] = ()

    @property
    def models_called(self) -> tuple[str, ...]:
        return tuple(c.model_id for c in self.calls if c.made)


def _calls(result: RouteResult) -> tuple[Call, ...]:
    return tuple(
        Call(
            model_id=a.model_id,
            stage=a.stage,
            outcome=a.outcome,
            verified=a.verdict is not Verdict.NOT_VERIFIED,
            accepted=a.verdict is Verdict.ACCEPT,
            score=a.score,
            latency_ms=a.latency_ms,
            input_tokens=a.input_tokens,
            output_tokens=a.output_tokens,
            cost_micros=a.cost_micros,
        )
        for a in result.attempts
    )


class _Recording:
    """Passes calls through and keeps them, so a route that ends in a typed error
    (which carries no trace) still accounts for what its attempts cost."""

    def __init__(self, model_id: str, inner: Provider, log: list[tuple[str, Completion]]):
        self._model_id = model_id
        self._inner = inner
        self._log = log

    async def complete(self, request: CompletionRequest) -> Completion:
        completion = await self._inner.complete(request)
        self._log.append((self._model_id, completion))
        return completion

    async def close(self) -> None:
        await self._inner.close()


def _unverified_calls(log: Sequence[tuple[str, Completion]]) -> tuple[Call, ...]:
    return tuple(
        Call(
            model_id=model_id,
            stage=-1,
            outcome=c.outcome.value,
            verified=False,
            accepted=False,
            score=0.0,
            latency_ms=c.latency_s * 1000.0,
            input_tokens=c.input_tokens,
            output_tokens=c.output_tokens,
            cost_micros=0,
        )
        for model_id, c in log
    )


class InProcessRouter:
    """One policy over one fleet copy: plan, then execute, exactly as Route() does.

    Requests are routed one at a time (the clock is shared); breaker, retry-throttle
    and online-estimate state carry over from one request to the next, as in a live
    router that starts fresh. A policy naming a predictor artefact loads it from
    `artefacts_dir` exactly as a router adopting the policy would, or is refused.
    """

    def __init__(
        self,
        *,
        policy: Policy,
        profiles: Iterable[ModelProfile],
        provider_for: Callable[[ModelProfile], Provider],
        clock: VirtualClock,
        seed: int = 0,
        artefacts_dir: Path | str = "artefacts",
        scorer: ScorerChoice = PACKAGED,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._fleet = FleetView(profiles)
        self._predictor, problems = load_bound_predictor(policy, Path(artefacts_dir))
        if problems:
            raise InvalidArgument(problems)
        self._estimates = OutcomeEstimates()
        self._windows = ShareWindows()
        self._breakers = BreakerBoard(BreakerSettings.from_policy(policy.breaker), clock=clock)
        self._log: list[tuple[str, Completion]] = []
        self._executor = RouteExecutor(
            provider_for=lambda p: _Recording(p.model_id, provider_for(p), self._log),
            verifier=EmbeddedVerifier(scorer),
            breakers=self._breakers,
            clock=clock,
            sleep=clock.sleep,
            rng=random.Random(seed).random,
            estimates=self._estimates,
        )

    def profile(self, model_id: str) -> ModelProfile | None:
        return self._fleet.get(model_id)

    def _plan(self, request: RouteInput, deadline: float) -> RoutePlan:
        return plan_route(
            policy=self.policy,
            request=request,
            fleet=self._fleet,
            breaker_state=lambda model: self._breakers.get(model).state,
            remaining_ms=(deadline - self._clock()) * 1000.0,
            predictor=self._predictor,
            estimates=self._estimates,
            gain_window=self._windows.reader(""),
        )

    async def route(self, request: router_pb2.RouteRequest) -> RoutedRequest:
        """Route one request; a typed error (no answer, budget, deadline) is a result."""
        route_in = route_input(request)
        # No client deadline offline: the policy's cap bounds the request, as in Route().
        deadline = self._clock() + self.policy.max_deadline_ms / 1000.0
        plan = self._plan(route_in, deadline)
        self._windows.feed("", plan)  # as Route() does: the traffic calibrates the share
        planned = tuple(c.model_id for c in plan.chain)
        quality = tuple(c.accept_probability for c in plan.chain)
        options = tuple(o.expected_quality for o in plan.cascades)
        self._log.clear()
        try:
            result = await self._executor.execute(plan, route_in, self.policy, deadline=deadline)
        except SwitchyardError as exc:
            return RoutedRequest(
                rule=plan.rule.name,
                planned=planned,
                served_model="",
                degraded=False,
                calls=_unverified_calls(self._log),
                escalations=max(0, len({m for m, _ in self._log}) - 1),
                error=exc.code.name,
                planned_quality=quality,
                option_quality=options,
            )
        return RoutedRequest(
            rule=plan.rule.name,
            planned=planned,
            served_model=result.model_id,
            degraded=result.degraded,
            calls=_calls(result),
            escalations=result.escalations,
            planned_quality=quality,
            option_quality=options,
        )


def policy_models(policy: Policy) -> Sequence[str]:
    """Every model a policy's rules may call, in first-mention order."""
    seen: dict[str, None] = {}
    for rule in policy.all_rules:
        for model in rule.strategy.models:
            seen.setdefault(model)
    return list(seen)
