"""Prometheus metrics of the verifier's judgements: verdicts per RPC, each check's
pass and fail counts, and the quality scores given.

Counted in plain Python numbers (the handler's target is p99 < 1 ms; see
switchyard.runtime.metrics.MethodStats) and exported at scrape time. Check names come
from the check registry, so the labels are bounded.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from switchyard.checks import Verification
from switchyard.runtime.metrics import LabelledCounts, LabelledHistograms

SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class VerdictMetrics(Collector):
    def __init__(self) -> None:
        self.verdicts = LabelledCounts()
        self.checks = LabelledCounts()
        self.scores = LabelledHistograms(SCORE_BUCKETS)

    def count(self, rpc: str, verification: Verification) -> None:
        self.verdicts.add((rpc, verification.verdict))
        add = self.checks.add
        for result in verification.results:
            add((result.name, "pass" if result.passed else "fail"))
        if verification.score:
            self.scores.observe((rpc,), verification.score)

    def collect(self) -> Iterator[Metric]:
        yield self.verdicts.family(
            "switchyard_verifier_verdicts",
            "Candidates judged, by RPC (verify, rank) and verdict",
            ["rpc", "verdict"],
        )
        yield self.checks.family(
            "switchyard_verifier_check_results",
            "Check runs by check and result (pass, fail); checks after a failure are"
            " skipped unless the request asks for all results",
            ["check", "result"],
        )
        yield self.scores.family(
            "switchyard_verifier_score",
            "Quality scores given (candidates the scorer rated)",
            ["rpc"],
        )


class LatestVerdictMetrics(Collector):
    """The process registry's view of the verifier servicer in this process."""

    def __init__(self) -> None:
        self.source: VerdictMetrics | None = None

    def collect(self) -> Iterator[Metric]:
        if self.source is not None:
            yield from self.source.collect()


VERDICT_METRICS = LatestVerdictMetrics()
REGISTRY.register(VERDICT_METRICS)
