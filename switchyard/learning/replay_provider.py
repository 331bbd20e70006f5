"""A `Provider` that answers from a labelled dataset instead of the network.

Offline evaluation routes each record through the router's own code; when the router
calls fleet model F, this provider returns what the dataset model F stands for
recorded for that record: its answer text, token counts and latency. The record being
routed is set with `replaying(record)` around the route (a context variable, so each
task sees its own record); the label of the answer finally served is what evaluation
scores.

Latency is the recorded `latency_ms`, else the fleet profile's p50, else 0. A call
whose latency exceeds the attempt's timeout ends as a TIMEOUT after the timeout, and
an answer longer than the request's max_tokens as TRUNCATED, as a live model would.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping

from services.router.providers.base import Completion, CompletionRequest, Outcome
from switchyard.learning.dataset import DatasetRecord
from switchyard.learning.inprocess_router import ModelProfile, VirtualClock

_RECORD: contextvars.ContextVar[DatasetRecord | None] = contextvars.ContextVar(
    "replayed_record", default=None
)


@contextlib.contextmanager
def replaying(record: DatasetRecord) -> Iterator[None]:
    token = _RECORD.set(record)
    try:
        yield
    finally:
        _RECORD.reset(token)


class ReplayProvider:
    """Serves one fleet model from the answers of the dataset model it stands for."""

    def __init__(self, profile: ModelProfile, dataset_model: str, clock: VirtualClock) -> None:
        self._profile = profile
        self._dataset_model = dataset_model
        self._clock = clock

    async def complete(self, request: CompletionRequest) -> Completion:
        record = _RECORD.get()
        if record is None:
            raise RuntimeError("ReplayProvider called outside replaying(record)")
        answer = record.answers.get(self._dataset_model)
        if answer is None:
            return Completion(
                Outcome.SERVER_ERROR,
                detail=f"record {record.id!r} has no answer from {self._dataset_model!r}",
            )
        if answer.latency_ms is not None:
            latency_s = answer.latency_ms / 1000.0
        else:
            latency_s = self._profile.latency_p50_ms / 1000.0
        if latency_s > request.timeout_s:
            self._clock.advance(request.timeout_s)
            return Completion(Outcome.TIMEOUT, latency_s=request.timeout_s, detail="replayed")
        self._clock.advance(latency_s)
        truncated = bool(request.max_tokens) and answer.output_tokens > request.max_tokens
        return Completion(
            Outcome.TRUNCATED if truncated else Outcome.OK,
            text=answer.answer or "",
            finish_reason="length" if truncated else "stop",
            input_tokens=answer.input_tokens,
            output_tokens=min(answer.output_tokens, request.max_tokens)
            if truncated
            else answer.output_tokens,
            latency_s=latency_s,
        )

    async def close(self) -> None:
        return None


class ReplayFleet:
    """`provider_for` for the executor: one ReplayProvider per fleet model."""

    def __init__(self, model_map: Mapping[str, str], clock: VirtualClock) -> None:
        self._map = dict(model_map)  # fleet model id -> dataset model
        self._clock = clock
        self._providers: dict[str, ReplayProvider] = {}

    def provider_for(self, profile: ModelProfile) -> ReplayProvider:
        provider = self._providers.get(profile.model_id)
        if provider is None:
            dataset_model = self._map.get(profile.model_id, profile.model_id)
            provider = ReplayProvider(profile, dataset_model, self._clock)
            self._providers[profile.model_id] = provider
        return provider
