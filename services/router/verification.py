"""How the router asks whether an answer is acceptable.

`RemoteVerifier` calls the verifier service (the default deployment); when that
service cannot answer in time it falls back to `EmbeddedVerifier`, the same check code
run in-process, so a verifier outage neither fails requests nor lets answers through
unchecked.

`verify` judges one answer (cascades); `rank` also asks for the quality scorer's score
even when no `min_score` gates the verdict, so ensembles can order their members'
answers (the verifier service's `Rank`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import grpc
import structlog
from google.protobuf import struct_pb2

from switchyard.checks import CheckResult, CheckSpec, CompiledChecks, compile_specs
from switchyard.checks.engine import PACKAGED, ScorerChoice
from switchyard.policy import CheckRef
from switchyard.runtime import tracing
from switchyard.runtime.errors import FailedPrecondition
from switchyard.verifier.v1 import verifier_pb2, verifier_pb2_grpc

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class AnswerUnderReview:
    """One model answer and what it must satisfy: the rule's checks and score floor."""

    prompt: str
    task_type: str
    output: str
    finish_reason: str
    checks: tuple[CheckRef, ...]
    min_score: float


@dataclass(frozen=True)
class AnswerVerdict:
    accepted: bool
    score: float
    reason: str


class AnswerVerifier(Protocol):
    async def verify(self, answer: AnswerUnderReview, *, timeout_s: float) -> AnswerVerdict: ...

    async def rank(
        self, answers: Sequence[AnswerUnderReview], *, timeout_s: float
    ) -> list[AnswerVerdict]:
        """Verdicts with scores, in the order given. The answers share the prompt,
        task type, checks and min_score (they answer one request)."""
        ...


def _first_failure(results: Sequence[CheckResult | verifier_pb2.CheckResult]) -> str:
    for r in results:
        if not r.passed:
            return f"{r.name}: {r.reason}"
    return ""


class EmbeddedVerifier:
    """Runs the checks in the router process; compiled check sets are cached per rule.
    `scorer`: the quality scorer (the router's `scorer_path`), by default the packaged one."""

    def __init__(self, scorer: ScorerChoice = PACKAGED) -> None:
        self._compiled: dict[tuple[CheckRef, ...], CompiledChecks] = {}
        self._scorer = scorer

    def _compile(self, checks: tuple[CheckRef, ...]) -> CompiledChecks:
        compiled = self._compiled.get(checks)
        if compiled is None:
            compiled = compile_specs(
                [CheckSpec(c.name, dict(c.params)) for c in checks], scorer=self._scorer
            )
            self._compiled[checks] = compiled
        return compiled

    async def verify(self, answer: AnswerUnderReview, *, timeout_s: float) -> AnswerVerdict:
        result = self._compile(answer.checks).verify(
            prompt=answer.prompt,
            task_type=answer.task_type,
            output=answer.output,
            finish_reason=answer.finish_reason,
            min_score=answer.min_score,
        )
        accepted = result.verdict == "accept"
        return AnswerVerdict(
            accepted, result.score, "" if accepted else _first_failure(result.results)
        )

    async def rank(
        self, answers: Sequence[AnswerUnderReview], *, timeout_s: float
    ) -> list[AnswerVerdict]:
        return [self._scored(answer) for answer in answers]

    def _scored(self, answer: AnswerUnderReview) -> AnswerVerdict:
        compiled = self._compile(answer.checks)
        kwargs = {
            "prompt": answer.prompt,
            "task_type": answer.task_type,
            "output": answer.output,
            "finish_reason": answer.finish_reason,
            "min_score": answer.min_score,
        }
        try:
            result = compiled.verify(**kwargs, always_score=True)
        except FailedPrecondition:
            # No scorer could be loaded: the verdict alone (score 1 or 0) ranks.
            result = compiled.verify(**kwargs)
        accepted = result.verdict == "accept"
        return AnswerVerdict(
            accepted, result.score, "" if accepted else _first_failure(result.results)
        )


class RemoteVerifier:
    def __init__(self, channel: grpc.aio.Channel, fallback: EmbeddedVerifier) -> None:
        self._stub = verifier_pb2_grpc.VerifierServiceStub(channel)
        self._fallback = fallback
        self._specs: dict[tuple[CheckRef, ...], list[verifier_pb2.CheckSpec]] = {}

    def _proto_specs(self, checks: tuple[CheckRef, ...]) -> list[verifier_pb2.CheckSpec]:
        specs = self._specs.get(checks)
        if specs is None:
            specs = []
            for c in checks:
                params = struct_pb2.Struct()
                params.update(dict(c.params))
                specs.append(verifier_pb2.CheckSpec(name=c.name, params=params))
            self._specs[checks] = specs
        return specs

    async def verify(self, answer: AnswerUnderReview, *, timeout_s: float) -> AnswerVerdict:
        request = verifier_pb2.VerifyRequest(
            prompt=answer.prompt,
            task_type=answer.task_type,
            candidate=verifier_pb2.Candidate(
                output=answer.output, finish_reason=answer.finish_reason
            ),
            checks=self._proto_specs(answer.checks),
            min_score=answer.min_score,
        )
        try:
            response = await self._stub.Verify(
                request, timeout=max(timeout_s, 0.001), metadata=tracing.grpc_metadata()
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise
            log.warning("verifier.fallback_embedded", code=exc.code().name)
            if tracing.active():
                tracing.annotate({"switchyard.verifier_fallback": exc.code().name})
            return await self._fallback.verify(answer, timeout_s=timeout_s)
        accepted = response.verdict == verifier_pb2.VERDICT_ACCEPT
        return AnswerVerdict(
            accepted, response.score, "" if accepted else _first_failure(response.results)
        )

    async def rank(
        self, answers: Sequence[AnswerUnderReview], *, timeout_s: float
    ) -> list[AnswerVerdict]:
        if not answers:
            return []
        first = answers[0]
        request = verifier_pb2.RankRequest(
            prompt=first.prompt,
            task_type=first.task_type,
            candidates=[
                verifier_pb2.Candidate(id=str(i), output=a.output, finish_reason=a.finish_reason)
                for i, a in enumerate(answers)
            ],
            checks=self._proto_specs(first.checks),
            min_score=first.min_score,
        )
        try:
            response = await self._stub.Rank(
                request, timeout=max(timeout_s, 0.001), metadata=tracing.grpc_metadata()
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise
            log.warning("verifier.fallback_embedded", code=exc.code().name, rpc="Rank")
            if tracing.active():
                tracing.annotate({"switchyard.verifier_fallback": exc.code().name})
            return await self._fallback.rank(answers, timeout_s=timeout_s)
        by_id = {c.id: c for c in response.candidates}
        verdicts = []
        for i in range(len(answers)):
            ranked = by_id[str(i)]
            accepted = ranked.verdict == verifier_pb2.VERDICT_ACCEPT
            verdicts.append(
                AnswerVerdict(
                    accepted, ranked.score, "" if accepted else _first_failure(ranked.results)
                )
            )
        return verdicts
