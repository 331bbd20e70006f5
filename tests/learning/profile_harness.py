"""Real servers for the profiling tests: a simulator in replay mode, a registry on port 0
with SQLite in a temp folder, a router following that registry, and the CLI as a process.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from services.registry.__main__ import start_registry
from services.registry.config import RegistryConfig
from services.router.app import RouterApp, build_router
from services.router.state import RouterState
from services.router.sync import watch_fleet
from services.simulator.replay import Replay, load_replay
from switchyard.controlplane.v1 import controlplane_pb2
from switchyard.fleet import parse_fleet
from switchyard.registry.v1 import registry_pb2, registry_pb2_grpc
from switchyard.router.v1 import router_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import RunningServer, start_server

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "profile-admin"
READ_TOKEN = "profile-read"


def answer(text: str, quality: float, **extra: Any) -> dict[str, Any]:
    return {"answer": text, "quality": quality, "input_tokens": 20, "output_tokens": 30, **extra}


def record(record_id: str, task: str, prompt: str, answers: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": record_id,
        "messages": [{"role": "user", "content": prompt}],
        "task_type": task,
        "answers": dict(answers),
    }


def labelled_records(labels: Mapping[str, Mapping[str, Sequence[float]]]) -> list[dict[str, Any]]:
    """Records per task type whose i-th answer from each dataset model has label [i]:
    labels = {"math": {"ds-small": [1, 0], "ds-large": [1, 1]}, ...}."""
    rows = []
    for task, by_model in labels.items():
        count = len(next(iter(by_model.values())))
        for i in range(count):
            prompt = f"{task} question number {i}: please answer it carefully."
            answers = {
                model: answer(f"{model} answers {task} question {i} in full sentences.", q[i])
                for model, q in by_model.items()
            }
            rows.append(record(f"{task}-{i}", task, prompt, answers))
    return rows


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any] | str]) -> Path:
    import json

    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def replay_of(path: Path) -> Replay:
    """What `--replay FILE` loads in the simulator process: the same loader, in process."""
    return load_replay([str(path)], REPO)


def fleet_entry(
    model_id: str,
    endpoint: str,
    *,
    kind: str = "simulator",
    input_price: int = 150_000,
    output_price: int = 600_000,
    quality: Mapping[str, float] | None = None,
    p50_ms: int = 10,
    credential_env: str = "",
) -> str:
    credential = f", credential_env: {credential_env}" if credential_env else ""
    quality_yaml = ", ".join(f"{t}: {q}" for t, q in (quality or {"chat": 0.9}).items())
    return f"""
- id: {model_id}
  provider: {{kind: {kind}, endpoint: "{endpoint}", upstream_model: {model_id}{credential}}}
  pricing: {{input_per_mtok_micros: {input_price}, output_per_mtok_micros: {output_price}}}
  context_window: 16384
  max_output_tokens: 1024
  quality: {{{quality_yaml}}}
  latency: {{total_p50_ms: {p50_ms}, total_p95_ms: {p50_ms * 2}, total_p99_ms: {p50_ms * 3}}}
  labels: {{team: search}}
"""


@dataclass
class RegistryUnderTest:
    running: RunningServer
    channel: grpc.aio.Channel
    stub: registry_pb2_grpc.RegistryServiceStub
    auth: bool

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.running.port}"

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {ADMIN_TOKEN}"),) if self.auth else ()

    async def create(self, fleet_yaml: str) -> None:
        for model in parse_fleet(fleet_yaml, environ={}):
            model_id = model.name.removeprefix("models/")
            model.ClearField("name")
            await self.stub.CreateModel(
                registry_pb2.CreateModelRequest(model_id=model_id, model=model),
                metadata=self.metadata,
            )

    async def get(self, model_id: str) -> registry_pb2.Model:
        response = await self.stub.GetModel(
            registry_pb2.GetModelRequest(name=f"models/{model_id}"), metadata=self.metadata
        )
        return response.model

    async def revisions(self) -> int:
        response = await self.stub.ListModelRevisions(
            registry_pb2.ListModelRevisionsRequest(page_size=1000), metadata=self.metadata
        )
        return len(response.revisions)


@asynccontextmanager
async def running_registry(
    db_path: Path, *, auth: bool = False
) -> AsyncIterator[RegistryUnderTest]:
    tokens: dict[str, Any] = (
        {"admin_tokens": (ADMIN_TOKEN,), "read_tokens": (READ_TOKEN,)} if auth else {}
    )
    config = RegistryConfig(port=0, db_path=str(db_path), grace_s=0.5, **tokens)
    running, store = await start_registry(config)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield RegistryUnderTest(
            running, channel, registry_pb2_grpc.RegistryServiceStub(channel), auth
        )
    finally:
        await channel.close()
        await running.stop(0.5)
        await store.close()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


async def run_profile_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout_s: float = 90.0
) -> CliResult:
    """`switchyard profile ...` as a real process, while this loop keeps serving."""
    process = await start_profile_cli(*args, env=env)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_s)
    assert process.returncode is not None
    return CliResult(process.returncode, stdout.decode(), stderr.decode())


async def start_profile_cli(
    *args: str, env: Mapping[str, str] | None = None
) -> asyncio.subprocess.Process:
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    environment.pop("SWITCHYARD_TOKEN", None)
    environment.update(env or {})
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "switchyard.cli.main",
        "profile",
        "--no-progress",
        *args,
        cwd=REPO,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


# -- a router that follows the registry ----------------------------------------------


def policy_snapshot(source: str) -> controlplane_pb2.RouterConfigSnapshot:
    return controlplane_pb2.RouterConfigSnapshot(
        version="1",
        nonce="profile-test",
        policies=[controlplane_pb2.PolicyVersion(version=1, source=source)],
        rollout=controlplane_pb2.Rollout(active_version=1),
    )


@dataclass
class RouterUnderTest:
    app: RouterApp
    server: RunningServer
    channel: grpc.aio.Channel
    stub: router_pb2_grpc.RouterServiceStub
    state: RouterState


@asynccontextmanager
async def router_following(
    registry: RegistryUnderTest, policy: str, state_dir: Path
) -> AsyncIterator[RouterUnderTest]:
    """A real router whose fleet comes from the registry's watch stream (no control plane:
    the policy is applied as the control plane's snapshot would be)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    state = RouterState(str(state_dir))
    state.apply_snapshot(policy_snapshot(policy))
    app = build_router(state=state, environ={})
    registry_channel = grpc.aio.insecure_channel(registry.address)
    app.channels.append(registry_channel)
    app.tasks.append(
        asyncio.create_task(watch_fleet(registry_channel, state, metadata=registry.metadata))
    )
    server = await start_server(name="router", config=ServerConfig(port=0), register=app.register)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        await asyncio.wait_for(state.wait_ready(), 5)
        yield RouterUnderTest(
            app, server, channel, router_pb2_grpc.RouterServiceStub(channel), state
        )
    finally:
        await channel.close()
        await server.stop(0.5)
        await app.close()
