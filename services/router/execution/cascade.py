"""`single` and `cascade`: the chain's stages one after another until one is accepted.

A single strategy is a cascade of one stage. A rejection or a failed stage escalates to
the next; the budget or the deadline running out ends the chain (the executor then
degrades). The score bar per stage is `Rule.min_score_for`: a cascade's last stage is
held to its checks only unless it sets its own.
"""

from __future__ import annotations

from services.router.execution.attempt import AttemptRunner
from services.router.execution.records import Answer, StopReason
from services.router.execution.run import Run
from services.router.execution.stage import run_stage


async def run_cascade(runner: AttemptRunner, run: Run) -> Answer | None:
    chain = run.plan.chain
    rule = run.plan.rule
    last = chain[-1].stage_index if chain else -1
    for candidate in chain:
        answer = await run_stage(
            runner,
            run,
            candidate,
            min_score=rule.min_score_for(candidate.stage, last=candidate.stage_index == last),
        )
        accepted = answer is not None and answer.accepted
        runner.record_stage(run, candidate, accepted=accepted)
        if accepted:
            return answer
        if run.stop is not StopReason.EXHAUSTED:
            return None
    return None
