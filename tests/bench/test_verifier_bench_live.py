"""The verifier bench's judged run, end to end: real verifier workers, real h2load,
every call reconciled against the verifier's own counts and histogram."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import verifier_bench as vb


@pytest.mark.skipif(shutil.which("h2load") is None, reason="h2load (nghttp2-client) not installed")
@pytest.mark.parametrize("workers", [1, 2])
async def test_h2load_run_reconciles_with_the_verifiers_histogram(
    tmp_path: Path, workers: int
) -> None:
    workload = vb.load_workload()[:40]
    requests = vb.build_requests(workload)
    picks = vb.h2load_picks([float(len(output)) for _, output in workload], count=4)
    process, port, pids, metrics_port = await vb._start_verifier(tmp_path, workers)
    try:
        assert len(pids) == workers
        result = await vb.h2load_run(
            port,
            [requests[i] for i in picks],
            tmp_path,
            seconds=0.3,
            pids=pids,
            metrics_ports=[metrics_port + i for i in range(workers)],
            connections=8,
            concurrency=16,
        )
    finally:
        process.terminate()
        await process.wait()
    assert result["reconciled"], result
    assert result["server_codes"] == {"OK": result["http_2xx"]}
    assert result["connections"] == 8 and result["in_flight"] == 16
    handler = result["handler_us"]
    assert 0 < handler["p50_at_most"] <= handler["p99_at_most"]
    assert result["throughput_per_s"] > 0
