"""`.ci/run` runs `make lint`, installs the C++ toolchain and runs `make test` with the
client tests required, and fails when any step fails."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from switchyard.tools.genproto import REPO_ROOT

FAKE_MAKE = """#!/usr/bin/env bash
echo "make $* require_clients=${SWITCHYARD_REQUIRE_CLIENTS:-}" >> "$CALLS"
[[ " $FAILING " == *" $1 "* ]] && exit 2
exit 0
"""


def run_ci(tmp_path: Path, failing: str) -> tuple[int, list[str]]:
    """.ci/run with a `make` on PATH that records its targets and fails the named ones."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "make"
    fake.write_text(FAKE_MAKE)
    fake.chmod(0o755)
    calls = tmp_path / "calls"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls)}
    env["FAILING"] = failing
    done = subprocess.run(
        [str(REPO_ROOT / ".ci" / "run")], env=env, capture_output=True, text=True, check=False
    )
    return done.returncode, calls.read_text().splitlines()


@pytest.mark.parametrize(
    ("failing", "ok"),
    [("", True), ("lint", False), ("cpp-toolchain", False), ("test", False), ("lint test", False)],
)
def test_ci_runs_every_step_and_fails_if_any_fails(tmp_path: Path, failing: str, ok: bool) -> None:
    """lint, cpp-toolchain and test run in that order even when one fails, with the
    client tests required; the exit status is 0 only if all pass."""
    status, calls = run_ci(tmp_path, failing)
    expected = ["lint", "cpp-toolchain", "test"]
    assert calls == [f"make {target} require_clients=1" for target in expected]
    assert (status == 0) == ok
