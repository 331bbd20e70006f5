"""The simulator as a real process: startup, port file, drain on SIGTERM, startup errors."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import aiohttp

from tests.simulator.helpers import launch, wait_for_port


async def test_process_serves_then_drains_in_flight_on_sigterm(tmp_path: Path) -> None:
    """The process answers, and a SIGTERM lets an in-flight slow request finish before exit 0."""
    models = tmp_path / "models.yaml"
    models.write_text("models:\n  slow:\n    ttft_ms: 600\n  fast: {}\n")
    port_file = tmp_path / "port"
    proc = launch(
        "--port", "0", "--port-file", str(port_file), "--models-file", str(models), "--seed", "1"
    )
    try:
        port = await wait_for_port(port_file, proc)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        async with aiohttp.ClientSession() as http:
            body = {"model": "fast", "messages": [{"role": "user", "content": "hello there"}]}
            async with http.post(url, json=body) as r:
                assert r.status == 200
            slow = asyncio.ensure_future(http.post(url, json={**body, "model": "slow"}))
            await asyncio.sleep(0.2)  # the slow request is now in flight
            proc.send_signal(signal.SIGTERM)
            response = await slow
            assert response.status == 200
            assert (await response.json())["model"] == "slow"
        assert await asyncio.to_thread(proc.wait, 10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_port_in_use_is_one_line_error(tmp_path: Path) -> None:
    """A taken port makes the process exit 2 with one line on stderr."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = launch("--port", str(port), "--models-file", "examples/simulator.yaml")
        _, stderr = await asyncio.to_thread(proc.communicate, timeout=20)
    assert proc.returncode == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("simulator: cannot bind") and str(port) in lines[0]


async def test_bad_models_file_is_one_line_error(tmp_path: Path) -> None:
    """An invalid models file makes the process exit 2 naming the bad field."""
    models = tmp_path / "models.yaml"
    models.write_text("models:\n  a:\n    quality: 7\n")
    proc = launch("--port", "0", "--models-file", str(models))
    _, stderr = await asyncio.to_thread(proc.communicate, timeout=20)
    assert proc.returncode == 2
    assert stderr.strip().count("\n") == 0
    assert "models.a.quality" in stderr
