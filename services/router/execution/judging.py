"""Verification of one answer for the attempt step: the rule's checks and score bar,
through `verify` (cascades) or `rank` (ensembles, which need a score to order by)."""

from __future__ import annotations

from collections.abc import Callable

from services.router.execution.run import Run
from services.router.providers.base import Completion
from services.router.verification import AnswerUnderReview, AnswerVerdict, AnswerVerifier
from switchyard.runtime import tracing

# An attempt (or a verification) with less time than this left would only time out.
MIN_ATTEMPT_S = 0.005


async def judge(
    verifier: AnswerVerifier,
    run: Run,
    completion: Completion,
    min_score: float,
    *,
    scored: bool,
    clock: Callable[[], float],
) -> AnswerVerdict:
    answer = AnswerUnderReview(
        prompt=run.request.prompt,
        task_type=run.request.task_type,
        output=completion.text,
        finish_reason=completion.finish_reason,
        checks=run.plan.rule.checks,
        min_score=min_score,
    )
    timeout = max(run.deadline - clock(), MIN_ATTEMPT_S)
    with tracing.span("verification") as current:
        if scored:
            [verdict] = await verifier.rank([answer], timeout_s=timeout)
        else:
            verdict = await verifier.verify(answer, timeout_s=timeout)
        if current is not None:
            current.set_attributes(
                {
                    "switchyard.accepted": verdict.accepted,
                    "switchyard.score": verdict.score,
                    "switchyard.reason": verdict.reason[:200],
                    "switchyard.scored": scored,
                }
            )
    return verdict
