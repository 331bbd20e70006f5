"""`--workers N`: N real verifier processes behind one port, supervised by the first."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import urllib.request
from pathlib import Path

import grpc
import pytest

from bench import prom
from bench.cpu import child_pids
from bench.service import free_port_run
from switchyard.verifier.v1 import verifier_pb2 as pb
from switchyard.verifier.v1 import verifier_pb2_grpc
from tests.verifier.test_verifier_process import ENV, REPO, wait_for_port

VERIFY = "/switchyard.verifier.v1.VerifierService/Verify"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def all_gone(pids: list[int], timeout_s: float) -> bool:
    for _ in range(int(timeout_s / 0.1)):
        if not any(alive(pid) for pid in pids):
            return True
        await asyncio.sleep(0.1)
    return not any(alive(pid) for pid in pids)


def verify_count(metrics_port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as page:
        text = page.read().decode()
    return sum(prom.rpc_codes(text, method=VERIFY, service="verifier").values())


async def start(
    tmp_path: Path, workers: int, metrics_port: int
) -> tuple[asyncio.subprocess.Process, int]:
    port_file = tmp_path / "verifier.port"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.verifier", "--port", "0", "--port-file", str(port_file),
        "--workers", str(workers), "--metrics-port", str(metrics_port),
        cwd=REPO, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=ENV,
    )  # fmt: skip
    try:
        return process, await wait_for_port(port_file, process, timeout_s=40)
    except AssertionError:
        await stop(process)
        assert process.stderr is not None
        raise AssertionError((await process.stderr.read()).decode()[-2000:]) from None


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
        await process.wait()


async def test_workers_share_the_port_and_stop_together(tmp_path: Path) -> None:
    """Every worker answers on the one port (by its own /metrics); SIGTERM stops all."""
    metrics_port = free_port_run(3)
    process, port = await start(tmp_path, 2, metrics_port)
    try:
        workers = [process.pid, *child_pids(process.pid)]
        assert len(workers) == 2
        # SO_REUSEPORT spreads connections, not calls: 16 connections all landing on
        # one of two workers has odds of 1 in 32,768.
        channels = [
            grpc.aio.insecure_channel(
                f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
            )
            for _ in range(16)
        ]
        request = pb.VerifyRequest(
            candidate=pb.Candidate(output="ok"), checks=[pb.CheckSpec(name="non_empty")]
        )
        replies = await asyncio.gather(
            *(
                verifier_pb2_grpc.VerifierServiceStub(c).Verify(request, timeout=10)
                for c in channels
            )
        )
        for channel in channels:
            await channel.close()
        assert all(r.verdict == pb.VERDICT_ACCEPT for r in replies)
        counts = [verify_count(metrics_port), verify_count(metrics_port + 1)]
        assert sum(counts) == 16 and min(counts) > 0
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
        assert await all_gone(workers, timeout_s=10)
    finally:
        await stop(process)


async def test_a_dead_worker_stops_the_service(tmp_path: Path) -> None:
    """kill -9 of a worker: the supervisor drains, says which worker died, exits 2."""
    process, _ = await start(tmp_path, 2, free_port_run(3))
    try:
        (worker,) = child_pids(process.pid)
        os.kill(worker, signal.SIGKILL)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 2
        assert process.stderr is not None
        assert "worker 1 exited with -9" in (await process.stderr.read()).decode()
    finally:
        await stop(process)


async def test_workers_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    """kill -9 of the supervisor: its workers notice and drain within seconds."""
    process, _ = await start(tmp_path, 3, free_port_run(3))
    try:
        workers = child_pids(process.pid)
        assert len(workers) == 2
        process.kill()
        await process.wait()
        assert await all_gone(workers, timeout_s=15)
    finally:
        for pid in child_pids(process.pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("workers", ["0", "65"])
async def test_workers_out_of_range_is_a_startup_error(tmp_path: Path, workers: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.verifier", "--workers", workers,
        cwd=REPO, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=ENV,
    )  # fmt: skip
    assert await asyncio.wait_for(process.wait(), timeout=30) == 2
    assert process.stderr is not None
    assert "workers must be 1..64" in (await process.stderr.read()).decode()
