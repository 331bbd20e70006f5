"""The registry as a real process: durability across kill -9, startup errors, config."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import grpc

from services.registry.config import ENV_PREFIX, RegistryConfig
from switchyard.registry.v1 import registry_pb2, registry_pb2_grpc
from switchyard.runtime.config import load_config
from tests.registry.profiles import valid_model

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20


async def _spawn(db_path: Path, port_file: Path) -> asyncio.subprocess.Process:
    port_file.unlink(missing_ok=True)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.registry", "--port", "0",
        "--db-path", str(db_path), "--port-file", str(port_file),
        cwd=REPO, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _port(process: asyncio.subprocess.Process, port_file: Path) -> int:
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
    while not port_file.exists():
        assert process.returncode is None, "registry exited during start"
        assert asyncio.get_running_loop().time() < deadline, "registry did not start"
        await asyncio.sleep(0.05)
    return int(port_file.read_text())


async def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    """Writers race; the registry is SIGKILLed right after the 25th reply. After a restart
    every acknowledged change is there, and every stored model has its revision entry."""
    db_path, port_file = tmp_path / "r.db", tmp_path / "port"
    process = await _spawn(db_path, port_file)
    port = await _port(process, port_file)
    acknowledged: list[registry_pb2.Model] = []
    killed = asyncio.Event()

    async def writer(stub: registry_pb2_grpc.RegistryServiceStub, worker: int) -> None:
        for i in range(50):
            request = registry_pb2.CreateModelRequest(
                model_id=f"w{worker}-{i}", model=valid_model()
            )
            try:
                response = await stub.CreateModel(request, timeout=5)
            except grpc.aio.AioRpcError:
                return  # the process is gone
            acknowledged.append(response.model)
            if len(acknowledged) == 25 and not killed.is_set():
                os.kill(process.pid, signal.SIGKILL)  # no grace, no flush, no atexit
                killed.set()

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        await asyncio.gather(*(writer(stub, w) for w in range(4)))
    await process.wait()
    assert process.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 25

    restarted = await _spawn(db_path, port_file)
    try:
        port = await _port(restarted, port_file)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            listed = await stub.ListModels(registry_pb2.ListModelsRequest(page_size=1000))
            stored = {m.name: m for m in listed.models}
            for model in acknowledged:
                assert stored[model.name] == model
            history = await stub.ListModelRevisions(
                registry_pb2.ListModelRevisionsRequest(page_size=1000)
            )
            revisions = {r.revision: r for r in history.revisions}
            for model in stored.values():
                assert revisions[model.revision].model == model
            # Revisions are dense: nothing half-written left a hole.
            assert sorted(revisions) == list(range(1, len(revisions) + 1))
    finally:
        restarted.terminate()
        await restarted.wait()


async def test_unreadable_database_is_a_one_line_error(tmp_path: Path) -> None:
    """A database file that is not SQLite: one line on stderr, non-zero exit, no traceback."""
    db_path = tmp_path / "garbage.db"
    db_path.write_bytes(b"this is not a database" * 100)
    process = await _spawn(db_path, tmp_path / "port")
    _, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT_S)
    assert process.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert lines[-1].startswith("registry: cannot open database")
    assert "Traceback" not in stderr.decode()


def test_tokens_come_from_the_environment() -> None:
    """SWITCHYARD_REGISTRY_ADMIN_TOKENS=a,b becomes a tuple; flags override the db path."""
    config = load_config(
        RegistryConfig,
        env_prefix=ENV_PREFIX,
        argv=["--db-path", "x.db"],
        environ={f"{ENV_PREFIX}ADMIN_TOKENS": "a, b", f"{ENV_PREFIX}READ_TOKENS": "r"},
    )
    assert config.admin_tokens == ("a", "b")
    assert config.read_tokens == ("r",)
    assert config.db_path == "x.db"
    assert config.auth_enabled
