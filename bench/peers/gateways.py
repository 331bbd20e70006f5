"""Start each peer gateway with the two simulated models (`instant`, then `backup` as
its fallback) and say how to call it: URL, headers and the request body."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.peers.install import PeerUnavailable
from bench.service import free_port

HERE = Path(__file__).resolve().parent
# LiteLLM's proxy refuses to start without a master key; any long random-looking one.
LITELLM_MASTER_KEY = "sk-bench-6f1d2c0a9b8e7d6c5b4a39281706f5e4"
SIM_API_KEY = "sk-bench"


@dataclass
class Gateway:
    name: str
    about: str
    process: subprocess.Popen[bytes]
    url: str
    headers: tuple[str, ...]
    model: str
    log_path: Path
    versions: dict[str, str] = field(default_factory=dict)

    def body(self, prompt: str) -> bytes:
        return json.dumps(
            {"model": self.model, "messages": [{"role": "user", "content": prompt}]}
        ).encode()

    async def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, 15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)


def litellm_proxy_config(simulator_v1: str) -> dict[str, Any]:
    def deployment(name: str, upstream: str) -> dict[str, Any]:
        return {
            "model_name": name,
            "litellm_params": {
                "model": f"openai/{upstream}",
                "api_base": simulator_v1,
                "api_key": SIM_API_KEY,
            },
        }

    return {
        "model_list": [deployment("primary", "instant"), deployment("backup", "backup")],
        "router_settings": {"fallbacks": [{"primary": ["backup"]}], "num_retries": 0},
        "litellm_settings": {"telemetry": False},
    }


def portkey_config(simulator_v1: str) -> dict[str, Any]:
    """The `x-portkey-config` header: fallback from the first target to the second."""

    def target(upstream: str) -> dict[str, Any]:
        return {
            "provider": "openai",
            "custom_host": simulator_v1,
            "api_key": SIM_API_KEY,
            "override_params": {"model": upstream},
        }

    return {"strategy": {"mode": "fallback"}, "targets": [target("instant"), target("backup")]}


def _spawn(
    args: list[str], log_path: Path, *, env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


async def await_ready(gateway: Gateway, prompt: str, timeout_s: float) -> None:
    """Ready when a real chat completion comes back through it."""
    headers = dict(h.split(": ", 1) for h in gateway.headers)
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if gateway.process.poll() is not None:
                raise PeerUnavailable(
                    f"{gateway.name} exited with {gateway.process.returncode}: {_tail(gateway)}"
                )
            try:
                async with session.post(
                    gateway.url,
                    data=gateway.body(prompt),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=5),
                ) as reply:
                    text = await reply.text()
                    if reply.status == 200 and '"choices"' in text:
                        return
                    last = f"HTTP {reply.status}: {text[:200]}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = repr(exc)
            await asyncio.sleep(0.5)
    await gateway.stop()
    raise PeerUnavailable(f"{gateway.name} not answering after {timeout_s:.0f} s: {last}")


def _tail(gateway: Gateway, lines: int = 3) -> str:
    try:
        text = gateway.log_path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text.strip().splitlines()[-lines:])


def start_litellm_proxy(python: Path, simulator_v1: str, work_dir: Path) -> Gateway:
    config = work_dir / "litellm-proxy.yaml"
    config.write_text(yaml.safe_dump(litellm_proxy_config(simulator_v1), sort_keys=False))
    port = free_port()
    process = _spawn(
        [
            str(python.parent / "litellm"),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
        ],
        work_dir / "litellm-proxy.log",
        env={
            "LITELLM_MASTER_KEY": LITELLM_MASTER_KEY,
            # Use the bundled model price map instead of fetching it at start.
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "ERROR",
        },
    )
    return Gateway(
        name="litellm-proxy",
        about="LiteLLM proxy server (1 worker), fallback primary -> backup",
        process=process,
        url=f"http://127.0.0.1:{port}/v1/chat/completions",
        headers=(
            "content-type: application/json",
            f"authorization: Bearer {LITELLM_MASTER_KEY}",
        ),
        model="primary",
        log_path=work_dir / "litellm-proxy.log",
    )


async def start_litellm_router(python: Path, simulator_v1: str, work_dir: Path) -> Gateway:
    port_file = work_dir / "litellm-router.port"
    port_file.unlink(missing_ok=True)
    log_path = work_dir / "litellm-router.log"
    process = _spawn(
        [
            str(python),
            str(HERE / "litellm_router_server.py"),
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--simulator-v1",
            simulator_v1,
        ],
        log_path,
        env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"},
    )
    deadline = time.monotonic() + 120
    while not (port_file.exists() and port_file.read_text().strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise PeerUnavailable(f"litellm-router did not start; see {log_path}")
        await asyncio.sleep(0.1)
    return Gateway(
        name="litellm-router",
        about="LiteLLM Router library (acompletion) behind a thin aiohttp endpoint",
        process=process,
        url=f"http://127.0.0.1:{int(port_file.read_text())}/v1/chat/completions",
        headers=("content-type: application/json",),
        model="primary",
        log_path=log_path,
    )


def start_portkey(entry: Path, simulator_v1: str, work_dir: Path) -> Gateway:
    port = free_port()
    log_path = work_dir / "portkey.log"
    process = _spawn(
        ["node", str(entry), f"--port={port}", "--headless"],
        log_path,
        env={"NODE_ENV": "production"},
        cwd=entry.parents[4],
    )
    config = json.dumps(portkey_config(simulator_v1), separators=(",", ":"))
    return Gateway(
        name="portkey",
        about="Portkey AI gateway (node), fallback config in x-portkey-config",
        process=process,
        url=f"http://127.0.0.1:{port}/v1/chat/completions",
        headers=("content-type: application/json", f"x-portkey-config: {config}"),
        model="instant",
        log_path=log_path,
    )
