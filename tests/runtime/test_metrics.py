"""RPC metrics: the lock-free per-method stats export as standard Prometheus families."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from switchyard.runtime.metrics import RPC_STATS


def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.labels.get("service") == "metrics-test"
    }


def test_counts_and_histogram_are_exported_cumulatively() -> None:
    """Two OK calls and one error give per-code totals, cumulative buckets, sum and count."""
    stats = RPC_STATS.method("metrics-test", "/pkg.Svc/Call")
    stats.observe("OK", 0.0002)
    stats.observe("OK", 0.003)
    stats.observe("INVALID_ARGUMENT", 0.2)
    got = samples()
    labels = (("method", "/pkg.Svc/Call"), ("service", "metrics-test"))
    assert got[("switchyard_rpc_total", (("code", "OK"), *labels))] == 2
    assert got[("switchyard_rpc_total", (("code", "INVALID_ARGUMENT"), *labels))] == 1

    def bucket(le: str) -> float:
        return got[("switchyard_rpc_seconds_bucket", (("le", le), *labels))]

    assert bucket("0.0005") == 1
    assert bucket("0.005") == 2
    assert bucket("0.25") == 3
    assert bucket("+Inf") == 3
    assert got[("switchyard_rpc_seconds_count", labels)] == 3
    assert abs(got[("switchyard_rpc_seconds_sum", labels)] - 0.2032) < 1e-9
