"""Live profiling: send a dataset's prompts to each model through the router's own
provider adapters, a bounded number at a time, and observe every reply.

The adapters (services/router/providers) are built from each model's registry profile
exactly as the router builds them (`ProviderPool`), so a profile measures the path
live traffic takes: the simulator in replay mode, vLLM, OpenAI or Anthropic alike.
Each call is one attempt: no retries, no fallbacks, so failure rates are the model's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from services.router.fleet import ModelProfile
from services.router.provider_pool import ProviderPool
from services.router.providers.base import ChatTurn, Completion, CompletionRequest, Outcome
from switchyard.learning.dataset import DatasetRecord
from switchyard.learning.profiling import (
    AnswerJudge,
    FailureMode,
    Observation,
    QualitySource,
)

# The router's first-attempt temperature, so a profile sees what live traffic sees.
DEFAULT_TEMPERATURE = 0.7

# Provider outcomes that carry no answer, and the failure mode each counts as.
_NO_ANSWER = {
    Outcome.TIMEOUT: FailureMode.TIMEOUT,
    Outcome.RATE_LIMITED: FailureMode.ERROR,
    Outcome.SERVER_ERROR: FailureMode.ERROR,
    Outcome.CLIENT_ERROR: FailureMode.ERROR,
    Outcome.CONNECTION_ERROR: FailureMode.ERROR,
    Outcome.MALFORMED: FailureMode.MALFORMED,
}


@dataclass(frozen=True)
class LiveSettings:
    concurrency: int = 8
    timeout_s: float = 60.0
    # 0: each model's registry max_output_tokens.
    max_tokens: int = 0
    temperature: float = DEFAULT_TEMPERATURE

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not self.timeout_s > 0:
            raise ValueError("timeout must be greater than 0")
        if self.max_tokens < 0:
            raise ValueError("max_tokens must not be negative")


@dataclass(frozen=True)
class LiveTarget:
    """A registry model to call, and the dataset model whose labels its answers get."""

    profile: ModelProfile
    dataset_model: str | None


def _request(
    record: DatasetRecord, target: LiveTarget, settings: LiveSettings
) -> CompletionRequest:
    limit = target.profile.max_output_tokens
    max_tokens = settings.max_tokens or limit or 1024
    if limit:
        max_tokens = min(max_tokens, limit)
    return CompletionRequest(
        upstream_model=target.profile.upstream_model,
        messages=tuple(ChatTurn(m.role, m.content) for m in record.messages),
        max_tokens=max_tokens,
        timeout_s=settings.timeout_s,
        temperature=settings.temperature,
    )


def observe(
    record: DatasetRecord, target: LiveTarget, completion: Completion, judge: AnswerJudge
) -> Observation:
    """One reply as an observation: failure mode, quality, cost at registry prices."""
    profile = target.profile
    cost = profile.cost_micros(completion.input_tokens, completion.output_tokens)
    common = {
        "model_id": profile.model_id,
        "task_type": record.task_type,
        "record_id": record.id,
        "cost_micros": cost,
        "input_tokens": completion.input_tokens,
        "output_tokens": completion.output_tokens,
    }
    failure = _NO_ANSWER.get(completion.outcome)
    if failure is not None:
        return Observation(
            quality=0.0,
            source=QualitySource.NO_ANSWER,
            latency_ms=None,
            answered=False,
            failure=failure,
            detail=completion.detail,
            **common,
        )
    finish = "length" if completion.outcome is Outcome.TRUNCATED else completion.finish_reason
    judgement = judge.judge(record, completion.text, finish, dataset_model=target.dataset_model)
    return Observation(
        quality=judgement.quality,
        source=judgement.source,
        latency_ms=completion.latency_s * 1000.0,
        answered=True,
        failure=judgement.failure,
        **common,
    )


async def measure_live(
    records: Sequence[DatasetRecord],
    targets: Sequence[LiveTarget],
    *,
    judge: AnswerJudge,
    settings: LiveSettings,
    environ: Mapping[str, str],
    on_observation: Callable[[Observation], None] | None = None,
) -> list[Observation]:
    """Every record to every target, at most `settings.concurrency` calls in flight.

    Calls interleave the models record by record, so a run stopped early has sampled
    every model alike. Cancelling this coroutine cancels the calls in flight.
    """
    pool = ProviderPool(environ)
    jobs: Iterator[tuple[DatasetRecord, LiveTarget]] = (
        (record, target) for record in records for target in targets
    )
    observations: list[Observation] = []

    async def worker() -> None:
        for record, target in jobs:
            provider = pool.provider_for(target.profile)
            started = time.perf_counter()
            completion = await provider.complete(_request(record, target, settings))
            if not completion.latency_s:
                seconds = time.perf_counter() - started
                completion = dataclasses.replace(completion, latency_s=seconds)
            observation = observe(record, target, completion, judge)
            observations.append(observation)
            if on_observation is not None:
                on_observation(observation)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(settings.concurrency, len(records) * len(targets))):
                group.create_task(worker())
    finally:
        await pool.close()
    return observations
