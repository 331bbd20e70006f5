"""VerifierService with the quality scorer, and parity with the embedded library."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf import struct_pb2

from switchyard.checks import CHECKS, CheckSpec, compile_specs, default_scorer
from switchyard.runtime.errors import field_violations
from switchyard.verifier.v1 import verifier_pb2 as pb

PROMPT = "Janet's ducks lay 16 eggs per day. She eats 3 and bakes with 4. She sells the rest at $2."
GOOD = "16 - 3 - 4 = <<16-3-4=9>>9 eggs.\n9 * $2 = $<<9*2=18>>18.\n#### 18"
BAD = (
    "16 - 3 = <<16-3=12>>12 eggs, approximately.\nSo about 12 / 2.5 = 4.8.\n#### 4.8 dollars or so"
)


def spec(name: str, **params: object) -> pb.CheckSpec:
    struct = struct_pb2.Struct()
    struct.update(params)
    return pb.CheckSpec(name=name, params=struct)


async def test_verify_min_score_runs_scorer_last(scored_verifier_stub) -> None:
    """With min_score the scorer runs after the checks and its probability is the score."""
    response = await scored_verifier_stub.Verify(
        pb.VerifyRequest(
            prompt=PROMPT,
            task_type="math",
            candidate=pb.Candidate(output=GOOD, finish_reason="stop"),
            checks=[spec("final_answer"), spec("non_empty")],
            min_score=0.5,
        )
    )
    assert [r.name for r in response.results] == ["non_empty", "final_answer", "quality"]
    assert response.verdict == pb.VERDICT_ACCEPT
    assert 0.5 <= response.score < 1.0


async def test_server_time_is_the_time_spent_serving_in_microseconds(scored_verifier_stub) -> None:
    """server_time_us is the server's own time for the call, in µs: more than zero (the
    scorer alone takes longer than a microsecond) and less than the client's round trip."""
    request = pb.VerifyRequest(
        prompt=PROMPT,
        task_type="math",
        candidate=pb.Candidate(output=GOOD, finish_reason="stop"),
        checks=[spec("final_answer"), spec("non_empty")],
        min_score=0.5,
    )
    rank = pb.RankRequest(
        prompt=PROMPT, task_type="math", candidates=[pb.Candidate(id="a", output=GOOD)]
    )
    for call, message in (
        (scored_verifier_stub.Verify, request),
        (scored_verifier_stub.Rank, rank),
    ):
        started = time.perf_counter_ns()
        response = await call(message)
        round_trip_us = (time.perf_counter_ns() - started) // 1000
        assert 0 < response.server_time_us < round_trip_us, (
            call,
            response.server_time_us,
            round_trip_us,
        )


async def test_verify_low_score_rejects(scored_verifier_stub) -> None:
    """A sloppy answer below min_score is REJECTed by the quality step with a reason."""
    response = await scored_verifier_stub.Verify(
        pb.VerifyRequest(
            prompt=PROMPT, task_type="math", candidate=pb.Candidate(output=BAD), min_score=0.5
        )
    )
    assert response.verdict == pb.VERDICT_REJECT
    assert response.results[-1].name == "quality"
    assert "below min_score" in response.results[-1].reason


async def test_rank_orders_by_score(scored_verifier_stub) -> None:
    """Rank puts accepted candidates first, then the higher quality score first."""
    response = await scored_verifier_stub.Rank(
        pb.RankRequest(
            prompt=PROMPT,
            task_type="math",
            candidates=[
                pb.Candidate(id="bad", output=BAD),
                pb.Candidate(id="empty", output=""),
                pb.Candidate(id="good", output=GOOD),
            ],
            checks=[spec("non_empty")],
        )
    )
    assert [c.id for c in response.candidates] == ["good", "bad", "empty"]
    good, bad, empty = response.candidates
    assert good.score > bad.score
    assert empty.verdict == pb.VERDICT_REJECT and empty.results[0].reason


async def test_list_checks_reports_everything(scored_verifier_stub) -> None:
    """ListChecks lists every registered check and the loaded scorer version."""
    response = await scored_verifier_stub.ListChecks(pb.ListChecksRequest())
    assert {c.name for c in response.checks} == set(CHECKS)
    assert {
        "non_empty",
        "length",
        "json",
        "json_schema",
        "regex",
        "blocklist",
        "refusal",
        "truncation",
        "final_answer",
    } <= set(CHECKS)
    assert response.scorer_version == default_scorer().version
    schema = next(c for c in response.checks if c.name == "json_schema")
    assert [(p.name, p.type) for p in schema.parameters] == [("schema", "object")]


@pytest.mark.parametrize(
    ("check", "field"),
    [
        (spec("json_schema", schema={"type": "objekt"}), "checks[0].params.schema"),
        (spec("regex", must_match=["(a"]), "checks[0].params.must_match[0]"),
        (spec("blocklist", words=[]), "checks[0].params.words"),
    ],
)
async def test_invalid_schema_and_regex(scored_verifier_stub, check, field) -> None:
    """Invalid JSON Schema, invalid regex, empty blocklist: INVALID_ARGUMENT naming them."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await scored_verifier_stub.Verify(
            pb.VerifyRequest(candidate=pb.Candidate(output="{}"), checks=[check])
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in {v.field for v in field_violations(info.value)}


async def test_catastrophic_regex_does_not_hang_the_server(scored_verifier_stub) -> None:
    """An exponential regex times out inside its budget; the server keeps answering."""
    response = await scored_verifier_stub.Verify(
        pb.VerifyRequest(
            candidate=pb.Candidate(output="a" * 20_000 + "b"),
            checks=[spec("regex", must_match=["(a|aa)+$"], timeout_ms=20)],
        ),
        timeout=10,
    )
    assert response.verdict == pb.VERDICT_REJECT and "timed out" in response.results[0].reason
    again = await scored_verifier_stub.ListChecks(pb.ListChecksRequest(), timeout=5)
    assert again.checks


async def test_embedded_and_service_agree(scored_verifier_stub) -> None:
    """The router's embedded path and the service give the same verdicts, scores and reasons."""
    checks = [
        ("non_empty", {}),
        ("length", {"max_chars": 400}),
        ("truncation", {}),
        ("final_answer", {"style": "gsm8k"}),
        ("blocklist", {"words": ["darn"]}),
    ]
    compiled = compile_specs([CheckSpec(n, p) for n, p in checks], scorer=default_scorer())
    for output in (GOOD, BAD, "", "#### 7 darn", "```\nunclosed", "x" * 500):
        for all_results in (False, True):
            local = compiled.verify(
                prompt=PROMPT,
                task_type="math",
                output=output,
                finish_reason="stop",
                all_results=all_results,
                min_score=0.4,
            )
            remote = await scored_verifier_stub.Verify(
                pb.VerifyRequest(
                    prompt=PROMPT,
                    task_type="math",
                    candidate=pb.Candidate(output=output, finish_reason="stop"),
                    checks=[spec(n, **p) for n, p in checks],
                    all_results=all_results,
                    min_score=0.4,
                )
            )
            assert (remote.verdict == pb.VERDICT_ACCEPT) == local.accepted
            assert remote.score == pytest.approx(local.score)
            assert [(r.name, r.passed, r.reason) for r in remote.results] == [
                (r.name, r.passed, r.reason) for r in local.results
            ]
