"""A stateful model of a cascade: arbitrary failure, latency and rejection schedules,
clock jumps and budgets, checking after every request that execution stayed in bounds."""

from __future__ import annotations

import asyncio

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from services.router.breakers import BreakerBoard, BreakerSettings, BreakerState
from services.router.execution import PANICS, RouteExecutor, Verdict
from services.router.fleet import FleetView, ModelProfile
from services.router.planning import RouteInput, plan_route
from services.router.providers.base import ChatTurn, Completion, CompletionRequest, Outcome
from services.router.verification import EmbeddedVerifier
from switchyard.policy import parse_policy
from switchyard.runtime.errors import DeadlineExceeded, ResourceExhausted, Unavailable
from tests.router.fakes import profile

MODELS = ("small", "medium", "large")
POLICY = parse_policy(
    """
name: machine
retry: {max_retries: 2, base_backoff_ms: 10, max_backoff_ms: 100}
checks: [{name: non_empty}, {name: length, params: {min_chars: 20}}]
default:
  name: cascade
  strategy:
    kind: cascade
    stages: [{model: small}, {model: medium, max_retries: 1}, {model: large, max_retries: 0}]
"""
)
MAX_CALLS = 3 + 2 + 1  # the sum of each stage's 1 + max_retries
MODES = ("accept", "reject", "server_error", "slow", "rate_limited", "client_error", "truncated")


FLEET = FleetView(
    [
        profile(name, price, context_window=100_000, latency_p50_ms=50)
        for name, price in (("small", 100_000), ("medium", 500_000), ("large", 2_000_000))
    ]
)


class CascadeMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.now = 0.0
        self.modes = dict.fromkeys(MODELS, "accept")
        self.latency = dict.fromkeys(MODELS, 0.05)
        self.calls: list[tuple[str, float, BreakerState]] = []
        self.board = BreakerBoard(
            BreakerSettings(
                window_size=4,
                minimum_calls=4,
                open_wait_s=5,
                max_open_wait_s=20,
                half_open_calls=1,
                ramp_up_s=1,
            ),
            clock=lambda: self.now,
        )
        self.executor = RouteExecutor(
            provider_for=self.provider,
            verifier=EmbeddedVerifier(),
            breakers=self.board,
            clock=lambda: self.now,
            sleep=self.sleep,
            rng=lambda: 0.5,
        )

    def teardown(self) -> None:
        self.loop.close()

    async def sleep(self, seconds: float) -> None:
        self.now += seconds

    def provider(self, p: ModelProfile):
        machine = self

        class Scripted:
            async def complete(self, request: CompletionRequest) -> Completion:
                machine.calls.append((p.model_id, machine.now, machine.board.get(p.model_id).state))
                latency = machine.latency[p.model_id]
                if latency > request.timeout_s:
                    machine.now += request.timeout_s
                    return Completion(Outcome.TIMEOUT, latency_s=request.timeout_s)
                machine.now += latency
                mode = machine.modes[p.model_id]
                text = "A thorough answer that is long enough to pass the checks."
                if mode == "accept":
                    return Completion(Outcome.OK, text, "stop", 100, 40, latency)
                if mode == "reject":
                    return Completion(Outcome.OK, "no", "stop", 100, 1, latency)
                if mode == "truncated":
                    return Completion(Outcome.TRUNCATED, text[:10], "length", 100, 3, latency)
                if mode == "rate_limited":
                    return Completion(Outcome.RATE_LIMITED, latency_s=latency, retry_after_s=0.2)
                if mode == "client_error":
                    return Completion(Outcome.CLIENT_ERROR, latency_s=latency)
                return Completion(Outcome.SERVER_ERROR, latency_s=latency)

            async def close(self) -> None:
                pass

        return Scripted()

    @rule(model=st.sampled_from(MODELS), mode=st.sampled_from(MODES))
    def set_mode(self, model: str, mode: str) -> None:
        self.modes[model] = mode

    @rule(model=st.sampled_from(MODELS), latency=st.sampled_from([0.01, 0.2, 1.5, 6.0]))
    def set_latency(self, model: str, latency: float) -> None:
        self.latency[model] = latency

    @rule(seconds=st.floats(min_value=0.1, max_value=30))
    def pass_time(self, seconds: float) -> None:
        self.now += seconds

    @rule(model=st.sampled_from(MODELS), force=st.sampled_from([None, "open", "closed"]))
    def operator_override(self, model: str, force: str | None) -> None:
        state = {"open": BreakerState.FORCED_OPEN, "closed": BreakerState.FORCED_CLOSED}.get(force)
        self.board.get(model).force(state)

    @precondition(lambda self: hasattr(self, "loop"))
    @rule(
        budget=st.integers(min_value=1, max_value=2_000),
        deadline_s=st.floats(min_value=0.02, max_value=5.0),
    )
    def route(self, budget: int, deadline_s: float) -> None:
        request = RouteInput(
            messages=(ChatTurn("user", "q" * 400),),
            max_output_tokens=200,
            prompt_tokens=100,
            budget_micros=budget,
        )
        start = self.now
        deadline = start + deadline_s
        self.calls.clear()
        plan = plan_route(
            policy=POLICY,
            request=request,
            fleet=FLEET,
            breaker_state=lambda m: self.board.get(m).state,
            remaining_ms=deadline_s * 1000,
        )
        panics_before = PANICS.count
        try:
            result = self.loop.run_until_complete(
                asyncio.wait_for(self.executor.execute(plan, request, POLICY, deadline=deadline), 5)
            )
        except (Unavailable, ResourceExhausted, DeadlineExceeded):
            result = None
        assert len(self.calls) <= MAX_CALLS
        for model, at, state in self.calls:
            assert at < deadline, f"{model} called at {at} after the deadline {deadline}"
            assert state is not BreakerState.FORCED_OPEN, (model, state)
        # Past an OPEN breaker only in panic mode, and once per route at most.
        past_open = [c for c in self.calls if c[2] is BreakerState.OPEN]
        assert len(past_open) <= 1, past_open
        if past_open:
            assert PANICS.count > panics_before
            assert result is None or result.panic
        if result is not None:
            assert result.total_cost_micros <= budget
            made = [a for a in result.attempts if a.outcome != "skipped"]
            assert len(made) == len(self.calls)
            assert result.degraded or result.attempts[-1].verdict is Verdict.ACCEPT

    @invariant()
    def clock_moves_forward_only(self) -> None:
        assert self.now >= 0


CascadeMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestCascadeMachine = CascadeMachine.TestCase
