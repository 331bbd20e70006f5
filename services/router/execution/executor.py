"""RouteExecutor: run a plan with its rule's strategy, then degrade if nothing was accepted.

Every strategy is finite: bounded members and stages, bounded retries per stage, no
attempt started past the deadline or beyond the budget.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Awaitable, Callable

from services.router.breakers import BreakerBoard
from services.router.estimates import OutcomeEstimates
from services.router.execution.attempt import AttemptRunner, ProviderFor
from services.router.execution.budget import UNLIMITED, AttemptBudget
from services.router.execution.cascade import run_cascade
from services.router.execution.degrade import degrade, stop_for_dropped
from services.router.execution.hedge import run_hedge
from services.router.execution.hedge_cap import HedgeAccounts
from services.router.execution.parallel import run_parallel
from services.router.execution.records import (
    PANICS,
    Answer,
    RouteResult,
    StopReason,
    attach_attempts,
)
from services.router.execution.run import Run
from services.router.execution.vote import run_vote
from services.router.plan import RouteInput, RoutePlan
from services.router.review import ReviewQueue
from services.router.verification import AnswerVerifier
from switchyard.policy import Policy

Strategy = Callable[[AttemptRunner, Run], Awaitable[Answer | None]]


class RouteExecutor:
    def __init__(
        self,
        *,
        provider_for: ProviderFor,
        verifier: AnswerVerifier,
        breakers: BreakerBoard,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        review: ReviewQueue | None = None,
        estimates: OutcomeEstimates | None = None,
    ) -> None:
        self._breakers = breakers
        self._review = review
        self._runner = AttemptRunner(
            provider_for=provider_for,
            verifier=verifier,
            breakers=breakers,
            clock=clock,
            sleep=sleep,
            rng=rng,
            estimates=estimates,
        )
        self.hedge_accounts = HedgeAccounts()
        self._strategies: dict[str, Strategy] = {
            "single": run_cascade,
            "cascade": run_cascade,
            "parallel": run_parallel,
            "vote": run_vote,
            "hedge": functools.partial(run_hedge, accounts=self.hedge_accounts),
        }

    async def execute(
        self,
        plan: RoutePlan,
        request: RouteInput,
        policy: Policy,
        *,
        deadline: float,
        budget: AttemptBudget | None = UNLIMITED,
    ) -> RouteResult:
        """Run the plan. `budget` is the shared budget every attempt reserves from
        (a tenant's ledger); the request's own budget is the plan's budget_micros."""
        run = Run(plan, request, policy, deadline, budget=budget or UNLIMITED, panic=plan.panic)
        try:
            return await self._run(run)
        except BaseException as exc:
            attach_attempts(exc, run.attempts)
            raise

    async def _run(self, run: Run) -> RouteResult:
        plan = run.plan
        strategy = self._strategies[plan.rule.strategy.kind]
        accepted = await strategy(self._runner, run)
        if accepted is None and not run.panic and run.refused_everywhere:
            # Every breaker refused (ramping up, out of probes): one more pass that
            # admits one call anyway beats degrading the whole rule's traffic.
            run.panic = True
            accepted = await strategy(self._runner, run)
        if run.panic:
            PANICS.count += 1
        if accepted is not None:
            return run.result(
                accepted.text, accepted.model_id, accepted.finish_reason, degraded=False
            )
        if run.stop is StopReason.EXHAUSTED:
            run.stop = stop_for_dropped(plan)
        return await degrade(run, self._review)
