"""The processes under test: the suite (with its router(s) exporting metrics), the
echo floor, and the simulator's admin API."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc

from bench import prom
from bench.service import free_port_run
from switchyard.suite import REPO_ROOT, Suite, SuitePorts, SuiteSettings

POLICIES = Path(__file__).resolve().parent / "policies"
FLEET_FILE = POLICIES / "fleet.yaml"
SIMULATOR_FILE = POLICIES / "simulator.yaml"
BASE_POLICY_FILE = POLICIES / "policy.yaml"


def _identity(data: bytes) -> bytes:
    return data


@dataclass
class EchoProcess:
    process: subprocess.Popen[bytes]
    address: str

    async def counts(self) -> dict[str, float]:
        async with grpc.aio.insecure_channel(self.address) as channel:
            get = channel.unary_unary(
                "/bench.EchoStats/Get",
                request_serializer=_identity,
                response_deserializer=_identity,
            )
            return {k: float(v) for k, v in json.loads(await get(b"", timeout=5)).items()}

    async def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, 10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _spawn(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            args, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


async def start_echo(work_dir: Path) -> EchoProcess:
    port_file = work_dir / "echo.port"
    port_file.unlink(missing_ok=True)
    process = _spawn(
        [sys.executable, "-m", "bench.echo_server", "--port", "0", "--port-file", str(port_file)],
        work_dir / "echo.log",
    )
    deadline = time.monotonic() + 20
    while not (port_file.exists() and port_file.read_text().strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"echo server did not start; see {work_dir / 'echo.log'}")
        await asyncio.sleep(0.05)
    return EchoProcess(process, f"127.0.0.1:{int(port_file.read_text())}")


@dataclass
class Stack:
    suite: Suite
    echo: EchoProcess
    metrics_ports: dict[str, int]
    http: aiohttp.ClientSession

    @property
    def router_address(self) -> str:
        return self.suite.address("router")

    def live_routers(self) -> list[str]:
        return [
            name
            for name in self.suite.router_names
            if self.suite.services[name].process.poll() is None
        ]

    def pids(self, *, routers: Sequence[str] | None = None) -> dict[str, int]:
        names = list(routers) if routers is not None else self.live_routers()
        pids = {
            name: svc.process.pid
            for name, svc in self.suite.services.items()
            if not name.startswith("router") and svc.process.poll() is None
        }
        pids.update({name: self.suite.services[name].process.pid for name in names})
        return pids

    async def _metrics(self, name: str) -> str:
        url = f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"
        async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as reply:
            return await reply.text()

    async def router_counts_of(self, name: str) -> dict[str, float]:
        """Route() calls one router process finished, by status code."""
        return prom.rpc_codes(await self._metrics(name), service="router")

    async def router_latency_buckets(self) -> dict[float, float]:
        """The routers' own Route() handling-time histogram (cumulative, seconds)."""
        parts = [
            prom.rpc_buckets(await self._metrics(n), service="router") for n in self.live_routers()
        ]
        return prom.add_counts(*parts)

    async def router_counts(self) -> dict[str, float]:
        """Route() calls finished by every live router, by status code."""
        return prom.add_counts(*[await self.router_counts_of(n) for n in self.live_routers()])

    async def stop_router(self, name: str) -> None:
        """Stop one of the routers sharing the port (SIGTERM: it drains first)."""
        process = self.suite.services[name].process
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 15)

    # -- the simulator's admin API ------------------------------------------------

    async def set_faults(self, model: str, faults: Mapping[str, Any]) -> None:
        url = f"{self.suite.simulator_url}/admin/models/{model}/faults"
        async with self.http.put(url, json=dict(faults)) as reply:
            if reply.status != 200:
                raise RuntimeError(f"PUT {url}: {reply.status} {await reply.text()}")

    async def clear_faults(self, model: str) -> None:
        url = f"{self.suite.simulator_url}/admin/models/{model}/faults"
        async with self.http.delete(url) as reply:
            if reply.status not in (200, 204):
                raise RuntimeError(f"DELETE {url}: {reply.status} {await reply.text()}")

    async def model_calls(self) -> dict[str, float]:
        """Requests each simulated model has received (the simulator's counters)."""
        async with self.http.get(f"{self.suite.simulator_url}/admin/models") as reply:
            body = await reply.json()
        return {m["name"]: float(m.get("counters", {}).get("requests", 0)) for m in body["models"]}

    async def close(self) -> None:
        await self.echo.stop()
        await self.suite.stop()
        await self.http.close()


async def start_stack(
    work_dir: Path, policy_text: str, *, routers: int, router_args: Sequence[str]
) -> Stack:
    """The suite and the echo server, with state and logs under work_dir."""
    work_dir.mkdir(parents=True, exist_ok=True)
    policy_file = work_dir / "policy.yaml"
    policy_file.write_text(policy_text)
    names = ["router" if i == 0 else f"router-{i + 1}" for i in range(routers)]
    # Below the ephemeral range: the services' own port-0 binds cannot take them.
    base = free_port_run(len(names))
    metrics_ports = {name: base + i for i, name in enumerate(names)}
    suite = Suite(
        SuiteSettings(
            state_dir=work_dir / "suite",
            ports=SuitePorts.ephemeral(),
            fleet_file=FLEET_FILE,
            simulator_file=SIMULATOR_FILE,
            policy_file=policy_file,
            routers=routers,
            router_args=tuple(router_args),
            router_metrics_ports=tuple(metrics_ports[n] for n in names),
        )
    )
    echo = await start_echo(work_dir)
    try:
        await suite.start()
    except BaseException:
        await echo.stop()
        raise
    return Stack(suite, echo, metrics_ports, aiohttp.ClientSession())
