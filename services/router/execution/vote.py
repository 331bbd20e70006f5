"""`vote`: fan out to `fan_out` members and return the answer most of them agree on.

Accepted answers become ballots (ballots.py has the normalisation rules); rejected,
failed and cancelled members cast none. `majority` counts one vote per ballot,
`confidence` weighs each by its verifier score. The vote ends early, cancelling the
members still running, once the remaining ballots could not change the winner. The
winner's share of the weight cast is reported as the response's `agreement`; a tie
follows the rule's `tie_break`, and a winner below `min_agreement` is no winner (the
request degrades).
"""

from __future__ import annotations

from services.router.execution.attempt import AttemptRunner
from services.router.execution.ballots import Ballot, Tally, ballot_key
from services.router.execution.members import MemberCalls
from services.router.execution.records import Answer
from services.router.execution.run import Run


async def run_vote(runner: AttemptRunner, run: Run) -> Answer | None:
    rule = run.plan.rule
    settings = rule.strategy.vote
    assert settings is not None  # parse_policy sets it for every vote strategy
    tally = Tally(settings)
    # Scores matter only when they weigh ballots or break ties.
    scored = settings.weighting == "confidence" or settings.tie_break == "score"
    bars = run.plan.score_bars()
    async with MemberCalls(runner, run) as members:
        for candidate in run.plan.chain[: settings.fan_out]:
            members.start(candidate, min_score=bars[candidate.stage_index], scored=scored)
        while members.running:
            reported = await members.next()
            assert reported is not None  # no timeout: a member ended
            candidate, answer = reported
            if answer is not None and answer.accepted:
                key = ballot_key(
                    answer.text, json_mode=run.request.json_mode, task_type=run.request.task_type
                )
                if key is not None:
                    tally.cast(Ballot(key, tally.weight_of(answer), candidate.stage_index, answer))
            if tally.decided(members.running):
                break  # the rest could not change the outcome: cancel them
    result = tally.result()
    if result is None:
        return None
    run.agreement = result.agreement
    return result.answer
