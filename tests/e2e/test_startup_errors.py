"""A service that cannot bind its port or open its database exits at once, non-zero,
with one line saying why."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = [
    "services.registry",
    "services.verifier",
    "controlplane",
    "services.router",
    "services.simulator",
]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )


def error_lines(stderr: str) -> list[str]:
    """Lines that are not structured (JSON) log events: the error a person reads."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("{")]


@pytest.mark.parametrize("module", SERVICES)
def test_port_in_use_is_a_one_line_error(module: str, taken_port: int, tmp_path: Path) -> None:
    """Binding a taken port fails fast with exit code 2 and a single stderr line naming it."""
    extra = (
        ["--db-path", str(tmp_path / "x.db")]
        if module in ("services.registry", "controlplane")
        else []
    )
    if module == "services.router":
        extra = ["--state-dir", str(tmp_path / "router")]
    result = run(module, "--port", str(taken_port), *extra)
    assert result.returncode == 2, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert str(taken_port) in lines[0]


@pytest.mark.parametrize("module", ["services.registry", "controlplane"])
def test_unopenable_database_is_a_one_line_error(module: str, tmp_path: Path) -> None:
    """A database path that cannot be created fails fast with exit 2 and one line."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run(module, "--port", "0", "--db-path", str(blocker / "db.sqlite"))
    assert result.returncode == 2, result.stderr
    assert len(error_lines(result.stderr)) == 1, result.stderr


def test_unopenable_ledger_is_a_one_line_error(tmp_path: Path) -> None:
    """A router whose --ledger-path cannot be created fails fast with exit 2, one line."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run(
        "services.router",
        "--port",
        "0",
        "--state-dir",
        str(tmp_path / "router"),
        "--ledger-path",
        str(blocker / "ledger.db"),
    )
    assert result.returncode == 2, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "ledger.db" in lines[0], result.stderr


@pytest.mark.parametrize("module", [m for m in SERVICES if m != "services.simulator"])
def test_metrics_port_in_use_is_a_one_line_error(
    module: str, taken_port: int, tmp_path: Path
) -> None:
    """A taken --metrics-port fails the same way as a taken service port."""
    extra = {
        "services.registry": ["--db-path", str(tmp_path / "x.db")],
        "controlplane": ["--db-path", str(tmp_path / "x.db")],
        "services.router": ["--state-dir", str(tmp_path / "router")],
    }.get(module, [])
    result = run(module, "--port", "0", "--metrics-port", str(taken_port), *extra)
    assert result.returncode == 2, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert f"cannot serve metrics on 127.0.0.1:{taken_port}" in lines[0]


@pytest.mark.parametrize("module", ["services.verifier", "services.router"])
def test_unusable_scorer_artefact_is_a_one_line_error(module: str, tmp_path: Path) -> None:
    """The verifier and the router read `--scorer-path` alike: an artefact that is not a
    scorer stops the start-up, exit 2, one line naming the file."""
    artefact = tmp_path / "team-scorer.json"
    artefact.write_text('{"format": "something else"}')
    extra = ["--state-dir", str(tmp_path / "router")] if module == "services.router" else []
    result = run(module, "--port", "0", "--scorer-path", str(artefact), *extra)
    assert result.returncode == 2, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "team-scorer.json" in lines[0], result.stderr
