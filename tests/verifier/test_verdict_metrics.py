"""The verifier's verdict and per-check metrics after real Verify and Rank calls."""

from __future__ import annotations

import grpc
from google.protobuf import struct_pb2
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.verifier.servicer import VerifierServicer, register_verifier
from services.verifier.verdict_metrics import VERDICT_METRICS
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import start_server
from switchyard.verifier.v1 import verifier_pb2 as pb
from switchyard.verifier.v1 import verifier_pb2_grpc


def spec(name: str, **params: object) -> pb.CheckSpec:
    struct = struct_pb2.Struct()
    struct.update(params)
    return pb.CheckSpec(name=name, params=struct)


def samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_verdicts_and_check_results_match_the_responses() -> None:
    """Each Verify/Rank candidate counts one verdict under its RPC, and each check
    result the response carried counts one pass or fail under the check's name."""
    servicer = VerifierServicer(scorer=None)
    assert VERDICT_METRICS.source is servicer.metrics
    registry = CollectorRegistry()
    registry.register(servicer.metrics)
    running = await start_server(
        name="verifier", config=ServerConfig(port=0), register=register_verifier(servicer)
    )
    checks = [spec("json"), spec("non_empty")]
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = verifier_pb2_grpc.VerifierServiceStub(channel)
            good = await stub.Verify(
                pb.VerifyRequest(candidate=pb.Candidate(output='{"a": 1}'), checks=checks)
            )
            bad = await stub.Verify(
                pb.VerifyRequest(candidate=pb.Candidate(output="not json"), checks=checks)
            )
            ranked = await stub.Rank(
                pb.RankRequest(
                    candidates=[pb.Candidate(id="x", output="{}"), pb.Candidate(id="y", output="")],
                    checks=checks,
                )
            )
    finally:
        await running.stop(0)
    seen = samples(registry)
    assert good.verdict == pb.VERDICT_ACCEPT and bad.verdict == pb.VERDICT_REJECT

    def count(name: str, **labels: str) -> float:
        return seen.get((name, frozenset(labels.items())), 0.0)

    verdicts = "switchyard_verifier_verdicts_total"
    assert count(verdicts, rpc="verify", verdict="accept") == 1
    assert count(verdicts, rpc="verify", verdict="reject") == 1
    rank_verdicts = [c.verdict for c in ranked.candidates]
    assert count(verdicts, rpc="rank", verdict="accept") == rank_verdicts.count(pb.VERDICT_ACCEPT)
    assert count(verdicts, rpc="rank", verdict="reject") == rank_verdicts.count(pb.VERDICT_REJECT)
    results = [r for reply in (good, bad) for r in reply.results]
    results += [r for c in ranked.candidates for r in c.results]
    for check in ("json", "non_empty"):
        for result, passed in (("pass", True), ("fail", False)):
            expected = sum(1 for r in results if r.name == check and r.passed is passed)
            assert (
                count("switchyard_verifier_check_results_total", check=check, result=result)
                == expected
            )
    assert any(n == "switchyard_verifier_check_results_total" for n, _ in samples(REGISTRY))
