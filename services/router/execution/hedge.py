"""`hedge`: if the first member has not answered after a delay, send the next one too.

The delay is the rule's `delay_ms`, or with `delay_percentile` the first model's measured
latency at that percentile for the task type (the router's online estimates; `delay_ms`
until it has answered). A hedge is sent at most once per request, only while the
request's budget can hold both calls' worst cases and the rule's hedge cap admits it
(hedge_cap.py), and as a single attempt (no retries). The first accepted answer wins
and the other call is cancelled. When a member ends without an accepted answer the
members behind it run as a cascade's would (fallbacks, not hedges).
"""

from __future__ import annotations

from collections import deque

from services.router.estimates import OutcomeEstimates
from services.router.execution.attempt import AttemptRunner
from services.router.execution.hedge_cap import HedgeAccounts, HedgeTicket
from services.router.execution.members import MemberCalls
from services.router.execution.records import Answer, StopReason
from services.router.execution.run import Run
from services.router.plan import Candidate
from switchyard.policy import HedgeSettings

PERCENTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}


def hedge_delay_s(
    settings: HedgeSettings, estimates: OutcomeEstimates | None, model_id: str, task_type: str
) -> float:
    if settings.delay_percentile is not None and estimates is not None:
        q = PERCENTILES[settings.delay_percentile]
        measured_ms = estimates.latency_percentile(model_id, task_type, q)
        if measured_ms > 0:
            return measured_ms / 1000.0
    return settings.delay_ms / 1000.0


async def run_hedge(runner: AttemptRunner, run: Run, *, accounts: HedgeAccounts) -> Answer | None:
    rule = run.plan.rule
    settings = rule.strategy.hedge
    assert settings is not None  # parse_policy sets it for every hedge strategy
    chain = run.plan.chain
    if not chain:
        return None
    account = accounts.for_rule(rule.name, settings.cap)
    if not run.hedge_counted:  # a panic re-run is the same request
        account.note_request(runner.clock())
        run.hedge_counted = True
    bars = run.plan.score_bars()
    waiting = deque(chain)
    ticket: HedgeTicket | None = None
    hedge: Candidate | None = None

    async with MemberCalls(runner, run) as members:

        def start(candidate: Candidate, *, max_retries: int | None = None) -> None:
            members.start(
                candidate,
                min_score=bars[candidate.stage_index],
                max_retries=max_retries,
            )

        first = waiting.popleft()
        start(first)
        hedge_at = runner.clock() + hedge_delay_s(
            settings, runner.estimates, first.model_id, run.request.task_type
        )
        may_hedge = bool(waiting) and not run.panic
        while members.running or waiting:
            if not members.running:
                if run.stop is not StopReason.EXHAUSTED:
                    return None
                start(waiting.popleft())  # a fallback after a failure or rejection
                continue
            timeout = max(0.0, hedge_at - runner.clock()) if may_hedge else None
            reported = await members.next(timeout_s=timeout)
            if reported is None:  # the delay ran out with the first call in flight
                may_hedge = False
                candidate = waiting[0]
                if run.can_afford(candidate.max_cost_micros):
                    ticket = account.admit(runner.clock(), candidate.max_cost_micros)
                if ticket is not None:
                    hedge = waiting.popleft()
                    run.hedged = True
                    start(hedge, max_retries=0)
                continue
            may_hedge = False  # the first call ended: what follows is a fallback
            candidate, answer = reported
            if ticket is not None and candidate is hedge:
                account.settle(ticket, run.cost_of_stage(candidate.stage_index))
            if answer is not None and answer.accepted:
                return answer
    return None
