"""`single` and `cascade`: the chain's stages one after another until one is accepted.

A single strategy is a cascade of one stage. A rejection or a failed stage escalates to
the next; the budget or the deadline running out ends the chain (the executor then
degrades). The score bar per stage is the plan's (`RoutePlan.score_bars`): a cascade's
last stage is held to its checks only unless it sets its own; with `escalate_gain`, an
earlier stage's bar rises to the next stage's predicted quality minus the margin.
"""

from __future__ import annotations

from services.router.execution.attempt import AttemptRunner
from services.router.execution.records import Answer, StopReason
from services.router.execution.run import Run
from services.router.execution.stage import run_stage


async def run_cascade(runner: AttemptRunner, run: Run) -> Answer | None:
    chain = run.plan.chain
    bars = run.plan.score_bars()
    for candidate in chain:
        answer = await run_stage(runner, run, candidate, min_score=bars[candidate.stage_index])
        accepted = answer is not None and answer.accepted
        runner.record_stage(run, candidate, accepted=accepted)
        if accepted:
            return answer
        if run.stop is not StopReason.EXHAUSTED:
            return None
    return None
