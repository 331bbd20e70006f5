"""VerifierService: thin glue between the protos and switchyard.checks."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from google.protobuf import json_format

from services.verifier.verdict_metrics import VERDICT_METRICS, VerdictMetrics
from switchyard.checks import (
    CHECKS,
    CheckSpec,
    CompiledChecks,
    QualityScorer,
    Verification,
    compile_specs,
)
from switchyard.runtime.errors import FieldViolation, InvalidArgument
from switchyard.verifier.v1 import verifier_pb2, verifier_pb2_grpc

_VERDICTS = {"accept": verifier_pb2.VERDICT_ACCEPT, "reject": verifier_pb2.VERDICT_REJECT}


class CompiledCache:
    """LRU of compiled check sets keyed by the serialized specs.

    Routers send the same few check lists over and over; compiling (Struct to dict,
    regex and schema compilation) once per distinct list keeps the handler cheap.
    Invalid lists raise and are never cached.
    """

    def __init__(self, *, size: int, scorer: QualityScorer | None) -> None:
        self._size = size
        self._scorer = scorer
        self._entries: OrderedDict[tuple[bytes, ...], CompiledChecks] = OrderedDict()

    def get(self, checks: Sequence[verifier_pb2.CheckSpec]) -> CompiledChecks:
        key = tuple(spec.SerializeToString(deterministic=True) for spec in checks)
        compiled = self._entries.get(key)
        if compiled is not None:
            self._entries.move_to_end(key)
            return compiled
        specs = [CheckSpec(spec.name, json_format.MessageToDict(spec.params)) for spec in checks]
        compiled = compile_specs(specs, scorer=self._scorer)
        self._entries[key] = compiled
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return compiled


def _add_results(target: Any, verification: Verification) -> None:
    # add() builds each result in place: half the cost of constructing and copying.
    add = target.add
    for r in verification.results:
        add(name=r.name, passed=r.passed, reason=r.reason, duration_us=r.duration_us)


def _verify(
    compiled: CompiledChecks,
    request: verifier_pb2.VerifyRequest | verifier_pb2.RankRequest,
    candidate: verifier_pb2.Candidate,
    *,
    always_score: bool = False,
) -> Verification:
    """One candidate of a Verify or Rank request through its compiled checks."""
    return compiled.verify(
        prompt=request.prompt,
        task_type=request.task_type,
        output=candidate.output,
        finish_reason=candidate.finish_reason,
        all_results=request.all_results,
        min_score=request.min_score,
        always_score=always_score,
    )


def _check_min_score(min_score: float) -> None:
    if not 0.0 <= min_score <= 1.0:
        raise InvalidArgument([FieldViolation("min_score", "must be within 0..1")])


class VerifierServicer(verifier_pb2_grpc.VerifierServiceServicer):
    def __init__(
        self,
        *,
        scorer: QualityScorer | None = None,
        cache_size: int = 512,
        max_rank_candidates: int = 64,
    ) -> None:
        self._scorer = scorer
        self._cache = CompiledCache(size=cache_size, scorer=scorer)
        self._max_rank_candidates = max_rank_candidates
        self.metrics = VerdictMetrics()
        VERDICT_METRICS.source = self.metrics

    async def Verify(
        self, request: verifier_pb2.VerifyRequest, context: grpc.aio.ServicerContext
    ) -> verifier_pb2.VerifyResponse:
        started = time.perf_counter_ns()
        if not request.HasField("candidate"):
            raise InvalidArgument([FieldViolation("candidate", "required: the answer to verify")])
        _check_min_score(request.min_score)
        verification = _verify(self._cache.get(request.checks), request, request.candidate)
        self.metrics.count("verify", verification)
        response = verifier_pb2.VerifyResponse(
            verdict=_VERDICTS[verification.verdict], score=verification.score
        )
        _add_results(response.results, verification)
        response.server_time_us = (time.perf_counter_ns() - started) // 1000
        return response

    async def Rank(
        self, request: verifier_pb2.RankRequest, context: grpc.aio.ServicerContext
    ) -> verifier_pb2.RankResponse:
        started = time.perf_counter_ns()
        if not request.candidates:
            raise InvalidArgument([FieldViolation("candidates", "give at least one candidate")])
        if len(request.candidates) > self._max_rank_candidates:
            raise InvalidArgument(
                [
                    FieldViolation(
                        "candidates",
                        f"{len(request.candidates)} candidates, more than the "
                        f"{self._max_rank_candidates} allowed",
                    )
                ]
            )
        _check_min_score(request.min_score)
        compiled = self._cache.get(request.checks)
        scored: list[tuple[int, Verification, verifier_pb2.Candidate]] = []
        for index, candidate in enumerate(request.candidates):
            verification = _verify(
                compiled, request, candidate, always_score=self._scorer is not None
            )
            self.metrics.count("rank", verification)
            scored.append((index, verification, candidate))
        # Accepted first, then highest score; the index keeps ties in request order.
        scored.sort(key=lambda item: (not item[1].accepted, -item[1].score, item[0]))
        response = verifier_pb2.RankResponse()
        for _, verification, candidate in scored:
            ranked = response.candidates.add(
                id=candidate.id,
                verdict=_VERDICTS[verification.verdict],
                score=verification.score,
            )
            _add_results(ranked.results, verification)
        response.server_time_us = (time.perf_counter_ns() - started) // 1000
        return response

    async def ListChecks(
        self, request: verifier_pb2.ListChecksRequest, context: grpc.aio.ServicerContext
    ) -> verifier_pb2.ListChecksResponse:
        checks = sorted(CHECKS.values(), key=lambda d: (d.cost_rank, d.name))
        return verifier_pb2.ListChecksResponse(
            checks=[
                verifier_pb2.CheckDescription(
                    name=d.name,
                    description=d.description,
                    cost_rank=d.cost_rank,
                    parameters=[
                        verifier_pb2.CheckParameter(
                            name=p.name, type=p.type, description=p.description
                        )
                        for p in d.params
                    ],
                )
                for d in checks
            ],
            scorer_version=self._scorer.version if self._scorer is not None else "",
        )


def register_verifier(servicer: VerifierServicer) -> Callable[[grpc.aio.Server], list[str]]:
    """A serve()/start_server() registrar for this servicer."""

    def register(server: grpc.aio.Server) -> list[str]:
        verifier_pb2_grpc.add_VerifierServiceServicer_to_server(servicer, server)
        return [verifier_pb2.DESCRIPTOR.services_by_name["VerifierService"].full_name]

    return register
