"""Starting the simulator as a real process in tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def launch(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SWITCHYARD_SIMULATOR_PORT", None)
    return subprocess.Popen(
        [sys.executable, "-m", "services.simulator", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_port(port_file: Path) -> int | None:
    return int(port_file.read_text()) if port_file.exists() else None


async def wait_for_port(port_file: Path, proc: subprocess.Popen[str]) -> int:
    for _ in range(200):
        port = read_port(port_file)
        if port is not None:
            return port
        assert proc.poll() is None, proc.communicate()[1]
        await asyncio.sleep(0.05)
    raise AssertionError("simulator did not write its port file")
