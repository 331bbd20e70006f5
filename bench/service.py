"""Start one service process for a benchmark and wait for the port it bound."""

from __future__ import annotations

import asyncio
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
