"""Start one service process for a benchmark and wait for the port it bound; pick
ports for metrics endpoints that no port-0 bind can take."""

from __future__ import annotations

import asyncio
import random
import socket
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


async def start_service(
    module: str, *args: str, workdir: Path, timeout_s: float = 30.0
) -> tuple[asyncio.subprocess.Process, int]:
    """`python -m module --port 0 --port-file F --log-level warning *args`; returns the
    process and its port once F is written (the service writes it when ready)."""
    port_file = workdir / f"{module.rsplit('.', 1)[-1]}.port"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, "--port", "0", "--port-file", str(port_file),
        "--log-level", "warning", *args,
        cwd=REPO, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while not port_file.exists():
        if process.returncode is not None or time.monotonic() > deadline:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise SystemExit(f"{module} did not start")
        await asyncio.sleep(0.05)
    return process, int(port_file.read_text())


def free_port() -> int:
    """A port nothing listens on right now (e.g. for a peer gateway to bind)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_run(count: int) -> int:
    """The first of `count` consecutive free ports, e.g. for metrics endpoints (verifier
    worker i serves /metrics on base + i).

    Drawn below the kernel's ephemeral range, so that no service binding port 0 (its
    gRPC port) can be handed one of them before its owner binds it.
    """
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()
    for _ in range(100):
        base = rng.randrange(10_000, max(10_001, low - count))
        if all(_port_free(base + i) for i in range(count)):
            return base
    raise SystemExit(f"no run of {count} free ports below {low}")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
