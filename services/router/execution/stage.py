"""One stage: a model's first attempt and its retries, with adjusted parameters.

A retryable failure (timeout, 429, 5xx, connection error) is retried while the stage's
`max_retries` (else the policy's), the model's retry throttle and the deadline allow,
after a backoff (an upstream Retry-After wins). Each retry's call is the previous one
adjusted by the policy's `retry.adjust` (lower temperature, fewer max tokens, extra
stop sequences). An answer, accepted or rejected, ends the stage: a rejection is the
executor's to act on (escalate, count as a member's ballot, ...).
"""

from __future__ import annotations

from services.router.execution.attempt import AttemptRunner
from services.router.execution.judging import MIN_ATTEMPT_S
from services.router.execution.records import Answer
from services.router.execution.run import Run
from services.router.fleet import ModelProfile
from services.router.plan import Candidate, RouteInput
from services.router.retry import FIRST_TEMPERATURE, CallParams, adjusted, backoff_s


def first_call(request: RouteInput, profile: ModelProfile) -> CallParams:
    limit = profile.max_output_tokens
    wanted = request.max_output_tokens
    return CallParams(
        temperature=FIRST_TEMPERATURE,
        max_tokens=min(wanted, limit) if limit else wanted,
    )


def stage_retries(run: Run, candidate: Candidate) -> int:
    if candidate.stage.max_retries is not None:
        return candidate.stage.max_retries
    return run.policy.retry.max_retries


async def run_stage(
    runner: AttemptRunner,
    run: Run,
    candidate: Candidate,
    *,
    min_score: float,
    scored: bool = False,
    max_retries: int | None = None,
) -> Answer | None:
    """The stage's answer (accepted or rejected), or None when it produced none."""
    assert candidate.profile is not None
    retries = stage_retries(run, candidate) if max_retries is None else max_retries
    settings = run.policy.retry
    throttle = runner.throttle(run, candidate.model_id)
    first = first_call(run.request, candidate.profile)
    for retry in range(retries + 1):
        attempt = await runner.attempt(
            run,
            candidate,
            retry=retry,
            params=adjusted(first, retry, settings.adjust),
            min_score=min_score,
            scored=scored,
        )
        if attempt.answer is not None or not attempt.made or attempt.outcome is None:
            return attempt.answer
        if not (attempt.outcome.retryable and retry < retries and throttle.allows_retry()):
            return None
        delay = backoff_s(retry + 1, settings, rng=runner.rng, retry_after_s=attempt.retry_after_s)
        if runner.clock() + delay >= run.deadline - MIN_ATTEMPT_S:
            return None  # the retry could not finish in time; move on instead
        await runner.sleep(delay)
    return None
