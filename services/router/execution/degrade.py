"""When no stage or member produced an accepted answer: a held answer, a review ticket,
the policy's static answer, or a typed error."""

from __future__ import annotations

from services.router.execution.records import RouteResult, StopReason
from services.router.execution.run import Run
from services.router.plan import DropReason, RoutePlan
from services.router.providers.base import Outcome
from services.router.review import ReviewQueue
from switchyard.runtime.errors import DeadlineExceeded, ResourceExhausted, Unavailable


def stop_for_dropped(plan: RoutePlan) -> StopReason:
    """A stage planning dropped for budget or deadline means the chain was cut short,
    not exhausted: that picks the fallback and the typed error."""
    dropped = [c.drop for c in plan.candidates if not c.kept]
    if DropReason.BUDGET in dropped:
        return StopReason.BUDGET
    if DropReason.DEADLINE in dropped:
        return StopReason.DEADLINE
    return StopReason.EXHAUSTED


async def degrade(run: Run, review: ReviewQueue | None) -> RouteResult:
    policy = run.policy
    # The chain could not afford to go on (or the last model timed out): a rejected
    # answer in hand beats none.
    cut_short = run.stop is not StopReason.EXHAUSTED or run.last_outcome is Outcome.TIMEOUT
    if cut_short and run.held is not None:
        held = run.held
        return run.result(held.text, held.model_id, held.finish_reason, degraded=True)
    if policy.degrade.human_review and review is not None:
        ticket = await review.file(
            rule=run.plan.rule.name,
            task_type=run.request.task_type,
            tenant=run.request.tenant,
            tier=run.request.tier,
            messages=[{"role": t.role, "content": t.content} for t in run.request.messages],
            attempts=len(run.attempts),
            reason=run.stop.value,
        )
        result = run.result(policy.degrade.static_answer or "", "", "human_review", degraded=True)
        result.review_ticket_id = ticket
        return result
    if policy.degrade.static_answer is not None:
        return run.result(policy.degrade.static_answer, "", "static", degraded=True)
    tried = len(run.attempts)
    if run.stop is StopReason.BUDGET:
        raise ResourceExhausted(
            f"budget of {run.plan.budget_micros} µUSD cannot pay for the next stage"
            f" (spent {run.spent} after {tried} attempts)"
        )
    if run.stop is StopReason.DEADLINE:
        raise DeadlineExceeded(f"deadline reached after {tried} attempts")
    raise Unavailable(
        f"no model produced an acceptable answer ({tried} attempts, rule {run.plan.rule.name!r})",
        retry_after_s=1.0,
    )
