"""The verifier as a real process: starts from the CLI, serves, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc

from switchyard.checks import training
from switchyard.checks.features import FEATURE_NAMES
from switchyard.checks.scorer import LogisticModel, default_scorer, load_scorer, save_scorer
from switchyard.learning.features import default_spec
from switchyard.verifier.v1 import verifier_pb2 as pb
from switchyard.verifier.v1 import verifier_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def read_port(port_file: Path) -> int | None:
    return int(port_file.read_text()) if port_file.exists() else None


async def wait_for_port(
    port_file: Path, process: asyncio.subprocess.Process, timeout_s: float
) -> int:
    for _ in range(int(timeout_s / 0.05)):
        port = read_port(port_file)
        if port is not None:
            return port
        assert process.returncode is None, "verifier exited before writing its port"
        await asyncio.sleep(0.05)
    raise AssertionError("verifier did not write its port file")


async def start_verifier(tmp_path: Path, *flags: str) -> tuple[asyncio.subprocess.Process, Path]:
    """`python -m services.verifier --port 0 --port-file F [flags]` and F."""
    port_file = tmp_path / "verifier.port"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "services.verifier", "--port", "0", "--port-file", str(port_file), *flags),
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=ENV,
    )
    return process, port_file


async def test_process_serves_and_drains(tmp_path: Path) -> None:
    """`python -m services.verifier --port 0 --port-file F` serves Verify, exits 0 on SIGTERM."""
    process, port_file = await start_verifier(tmp_path)
    try:
        port = await wait_for_port(port_file, process, timeout_s=20)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = verifier_pb2_grpc.VerifierServiceStub(channel)
            described = await stub.ListChecks(pb.ListChecksRequest(), timeout=10)
            assert described.scorer_version.startswith("quality-v1-")
            response = await stub.Verify(
                pb.VerifyRequest(
                    candidate=pb.Candidate(output=""), checks=[pb.CheckSpec(name="non_empty")]
                ),
                timeout=10,
            )
        assert response.verdict == pb.VERDICT_REJECT
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_bad_flag_exits_nonzero_with_one_line() -> None:
    """An invalid port is a one-line error on stderr and a non-zero exit."""
    result = subprocess.run(
        [sys.executable, "-m", "services.verifier", "--port", "70000"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        env=ENV,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "port" in result.stderr


def test_bad_scorer_artifact_exits_nonzero(tmp_path: Path) -> None:
    """A missing scorer artefact stops start-up with a one-line error, exit 2."""
    result = subprocess.run(
        [
            sys.executable,
            *("-m", "services.verifier", "--port", "0"),
            *("--scorer-path", str(tmp_path / "missing.json")),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        env=ENV,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "missing.json" in result.stderr


async def test_process_scores_with_an_answer_embedding_artefact(tmp_path: Path) -> None:
    """A format-2 artefact (`--scorer-path`) loads in the real process, which scores with
    its embedding weights exactly as the artefact does in-process."""
    reads = LogisticModel(
        "reads", ("reasoning",), -0.5, (0.0,) * len(FEATURE_NAMES), {}, (0.5,) * 128
    )
    artefact = tmp_path / "scorer.json"
    save_scorer(
        training.build_scorer(
            [*default_scorer().models.values(), reads],
            default_model="general",
            embedding=default_spec().embedding,
        ),
        artefact,
    )
    scorer = load_scorer(artefact)
    process, port_file = await start_verifier(tmp_path, "--scorer-path", str(artefact))
    answer = "Rivers cut valleys as they carry rock and sand down from the mountains."
    try:
        port = await wait_for_port(port_file, process, timeout_s=30)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = verifier_pb2_grpc.VerifierServiceStub(channel)
            described = await stub.ListChecks(pb.ListChecksRequest(), timeout=10)
            assert described.scorer_version == scorer.version
            for task in ("reasoning", "chat"):
                response = await stub.Verify(
                    pb.VerifyRequest(
                        prompt="How do rivers shape valleys?",
                        task_type=task,
                        candidate=pb.Candidate(output=answer, finish_reason="stop"),
                        min_score=0.01,
                    ),
                    timeout=10,
                )
                expected = scorer.score(
                    prompt="How do rivers shape valleys?",
                    task_type=task,
                    output=answer,
                    finish_reason="stop",
                )
                assert response.score == expected, task
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
