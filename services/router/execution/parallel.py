"""`parallel`: fan out to the first `fan_out` members at once and return the best answer.

Every member's answer is verified with a ranking score (the verifier's `Rank`, or the
same checks and scorer in-process) as it arrives; the best accepted answer wins (higher
score, then the earlier to arrive). The fan-out ends early, cancelling the members still
running, once an accepted answer scores at least the rule's `accept_score`, or scores
1.0, which nothing can beat. Each member runs as a stage (with its retries); the
response's attempts list every member: answered, failed, skipped or cancelled.
"""

from __future__ import annotations

from services.router.execution.attempt import AttemptRunner
from services.router.execution.members import MemberCalls
from services.router.execution.records import Answer
from services.router.execution.run import Run

TOP_SCORE = 1.0


async def run_parallel(runner: AttemptRunner, run: Run) -> Answer | None:
    rule = run.plan.rule
    settings = rule.strategy.parallel
    assert settings is not None  # parse_policy sets it for every parallel strategy
    bar = TOP_SCORE if settings.accept_score is None else min(settings.accept_score, TOP_SCORE)
    best: Answer | None = None
    bars = run.plan.score_bars()
    async with MemberCalls(runner, run) as members:
        for candidate in run.plan.chain[: settings.fan_out]:
            members.start(candidate, min_score=bars[candidate.stage_index], scored=True)
        while members.running:
            reported = await members.next()
            assert reported is not None  # no timeout: a member ended
            _, answer = reported
            if (
                answer is not None
                and answer.accepted
                and (best is None or answer.score > best.score)
            ):
                best = answer
            if best is not None and best.score >= bar:
                break  # good enough, or unbeatable: cancel the rest
    return best
