"""VerifierService over real gRPC: Verify, Rank, ListChecks and bad input."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import struct_pb2

from switchyard.runtime.errors import field_violations
from switchyard.verifier.v1 import verifier_pb2 as pb


def spec(name: str, **params: object) -> pb.CheckSpec:
    struct = struct_pb2.Struct()
    struct.update(params)
    return pb.CheckSpec(name=name, params=struct)


async def test_verify_accepts(verifier_stub) -> None:
    """A valid JSON answer within bounds is ACCEPTed with each check's result."""
    response = await verifier_stub.Verify(
        pb.VerifyRequest(
            prompt="give json",
            task_type="extraction",
            candidate=pb.Candidate(id="a", output='{"k": 1}', finish_reason="stop"),
            checks=[spec("json"), spec("length", max_chars=100), spec("non_empty")],
        )
    )
    assert response.verdict == pb.VERDICT_ACCEPT
    assert response.score == 1.0
    assert [r.name for r in response.results] == ["non_empty", "length", "json"]
    assert all(r.passed for r in response.results)


async def test_verify_rejects_with_reason(verifier_stub) -> None:
    """A failing check REJECTs, stops there, and carries the reason."""
    response = await verifier_stub.Verify(
        pb.VerifyRequest(
            candidate=pb.Candidate(output="not json"),
            checks=[spec("json"), spec("non_empty")],
        )
    )
    assert response.verdict == pb.VERDICT_REJECT
    assert [(r.name, r.passed) for r in response.results] == [("non_empty", True), ("json", False)]
    assert response.results[-1].reason.startswith("not valid JSON")


async def test_verify_all_results(verifier_stub) -> None:
    """all_results runs every check even after a failure."""
    response = await verifier_stub.Verify(
        pb.VerifyRequest(
            candidate=pb.Candidate(output=""),
            checks=[spec("json"), spec("non_empty"), spec("length", min_chars=3)],
            all_results=True,
        )
    )
    assert [r.passed for r in response.results] == [False, False, False]


@pytest.mark.parametrize(
    ("checks", "field", "mentions"),
    [
        ([spec("non_empty"), spec("sentiment")], "checks[1].name", "sentiment"),
        ([spec("length", max_chars="big")], "checks[0].params.max_chars", "length"),
        ([spec("json", strict=True)], "checks[0].params.strict", "json"),
    ],
)
async def test_verify_invalid_checks(verifier_stub, checks, field, mentions) -> None:
    """Unknown checks and bad params are INVALID_ARGUMENT naming the check and field."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await verifier_stub.Verify(
            pb.VerifyRequest(candidate=pb.Candidate(output="x"), checks=checks)
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = {v.field: v.description for v in field_violations(info.value)}
    assert field in found and mentions in found[field]


async def test_verify_requires_candidate(verifier_stub) -> None:
    """A Verify without a candidate is INVALID_ARGUMENT on `candidate`."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await verifier_stub.Verify(pb.VerifyRequest(checks=[spec("non_empty")]))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(info.value)] == ["candidate"]


async def test_verify_min_score_without_scorer(verifier_stub) -> None:
    """A quality gate on a verifier with no scorer is FAILED_PRECONDITION."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await verifier_stub.Verify(
            pb.VerifyRequest(candidate=pb.Candidate(output="x"), min_score=0.5)
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_verify_oversized_output(verifier_stub) -> None:
    """An output over the size limit is REJECTed with a reason, the server stays up."""
    response = await verifier_stub.Verify(
        pb.VerifyRequest(candidate=pb.Candidate(output="x" * (1024 * 1024 + 1)))
    )
    assert response.verdict == pb.VERDICT_REJECT
    assert response.results[0].name == "output_size"
    assert "limit" in response.results[0].reason


async def test_rank_orders_accepted_first(verifier_stub) -> None:
    """Rank returns accepted candidates before rejected ones, ties in request order."""
    response = await verifier_stub.Rank(
        pb.RankRequest(
            candidates=[
                pb.Candidate(id="bad", output="{"),
                pb.Candidate(id="good1", output="[1]"),
                pb.Candidate(id="empty", output=""),
                pb.Candidate(id="good2", output="{}"),
            ],
            checks=[spec("non_empty"), spec("json")],
        )
    )
    assert [c.id for c in response.candidates] == ["good1", "good2", "bad", "empty"]
    assert [c.verdict for c in response.candidates] == [
        pb.VERDICT_ACCEPT,
        pb.VERDICT_ACCEPT,
        pb.VERDICT_REJECT,
        pb.VERDICT_REJECT,
    ]
    assert response.candidates[2].results[-1].reason


@pytest.mark.parametrize(("count", "field"), [(0, "candidates"), (9, "candidates")])
async def test_rank_candidate_count_bounds(verifier_stub, count: int, field: str) -> None:
    """Rank needs at least one candidate and at most the configured maximum."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await verifier_stub.Rank(pb.RankRequest(candidates=[pb.Candidate(output="x")] * count))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(info.value)] == [field]


async def test_list_checks_describes_parameters(verifier_stub) -> None:
    """ListChecks names every check with its cost rank and typed parameters."""
    response = await verifier_stub.ListChecks(pb.ListChecksRequest())
    by_name = {c.name: c for c in response.checks}
    assert {"non_empty", "length", "json"} <= set(by_name)
    assert {p.name: p.type for p in by_name["length"].parameters} == {
        "min_chars": "int",
        "max_chars": "int",
        "max_tokens": "int",
    }
    ranks = [c.cost_rank for c in response.checks]
    assert ranks == sorted(ranks)
    assert response.scorer_version == ""
