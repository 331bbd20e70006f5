"""`python -m controlplane` as a real process: seed, serve, drain, refuse a bad database."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.controlplane.v1 import controlplane_pb2_grpc as pb_grpc
from tests.controlplane.cp_harness import REPO

START_TIMEOUT_S = 20.0


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controlplane",
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _read_port(port_file: Path) -> int | None:
    return int(port_file.read_text()) if port_file.exists() else None


async def _wait_for_port(port_file: Path, process: asyncio.subprocess.Process) -> int:
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
    while (port := _read_port(port_file)) is None:
        assert process.returncode is None, "control plane exited during start"
        assert asyncio.get_running_loop().time() < deadline, "control plane never became ready"
        await asyncio.sleep(0.05)
    return port


async def test_process_seeds_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    """Seeded on first start, SERVING, GetPolicy answers, SIGTERM exits 0; restart keeps it."""
    db = tmp_path / "var" / "cp.db"
    for attempt in range(2):
        port_file = tmp_path / f"port{attempt}"
        process = await _spawn(
            "--port",
            "0",
            "--db-path",
            str(db),
            "--port-file",
            str(port_file),
            "--seed-policy",
            "examples/policy.yaml",
            "--grace-s",
            "1",
        )
        try:
            port = await _wait_for_port(port_file, process)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                health = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(
                        service="switchyard.controlplane.v1.ControlPlaneService"
                    )
                )
                assert health.status == health_pb2.HealthCheckResponse.SERVING
                stub = pb_grpc.ControlPlaneServiceStub(channel)
                got = await stub.GetPolicy(pb.GetPolicyRequest())
                assert got.policy.version == 1
                assert got.policy.author == "seed"
                listed = await stub.ListPolicies(pb.ListPoliciesRequest())
                assert len(listed.policies) == 1  # the restart did not seed again
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 15)
        assert code == 0


async def test_unopenable_database_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    """A database that cannot be created is one stderr line and exit status 2."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    process = await _spawn("--port", "0", "--db-path", str(blocker / "cp.db"))
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("controlplane: cannot open database")
