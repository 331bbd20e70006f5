"""The router's per-version counters (services/router/rollout_report.py)."""

from __future__ import annotations

import grpc

from controlplane import guard
from services.router import rollout_report
from services.router.execution import AttemptOutcome, AttemptRecord, RouteResult, Verdict
from services.router.observers import RouteTrace
from services.router.rollout_report import RolloutStats


def _trace(version: int, code: grpc.StatusCode, *, verdicts=(), cost=0, escalations=0):
    trace = RouteTrace.start("r")
    trace.policy_version = version
    trace.code = code
    trace.latency_ms = 42.0
    if code is grpc.StatusCode.OK:
        trace.result = RouteResult(
            answer="a",
            model_id="small",
            finish_reason="stop",
            attempts=[AttemptRecord("small", 0, 0, AttemptOutcome.OK, verdict=v) for v in verdicts],
            total_cost_micros=cost,
            escalations=escalations,
        )
    return trace


def test_counts_errors_escalations_verdicts_and_cost_per_version() -> None:
    """Only failures to answer count as errors; a refusal the caller caused does not."""
    stats = RolloutStats()
    stats.observe(
        _trace(
            1, grpc.StatusCode.OK, verdicts=[Verdict.REJECT, Verdict.ACCEPT], cost=30, escalations=1
        )
    )
    stats.observe(_trace(1, grpc.StatusCode.UNAVAILABLE))
    stats.observe(_trace(1, grpc.StatusCode.RESOURCE_EXHAUSTED))
    stats.observe(_trace(2, grpc.StatusCode.DEADLINE_EXCEEDED))
    stats.observe(_trace(0, grpc.StatusCode.INVALID_ARGUMENT))  # refused before a version
    report = {v.policy_version: v for v in stats.request("r1", "boot").versions}
    assert set(report) == {1, 2}
    one = report[1]
    assert (one.requests, one.errors, one.escalations) == (3, 1, 1)
    assert (one.verified, one.accepted, one.cost_micros) == (2, 1, 30)
    assert sum(one.latency_buckets) == 3
    assert report[2].errors == 1


def test_router_and_control_plane_share_latency_buckets() -> None:
    """The histograms routers send add up at the control plane only with the same bounds."""
    assert rollout_report.LATENCY_BUCKETS_MS == guard.LATENCY_BUCKETS_MS
    for ms in (0, 5, 5.1, 999, 60_000, 60_001):
        assert rollout_report.latency_bucket(ms) == guard.latency_bucket(ms)
