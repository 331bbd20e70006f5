"""Debian's Prometheus tools for the deploy/ tests, installed by `make prometheus-tool`
when missing (make test depends on it, so normally they are already there)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from switchyard.tools.genproto import REPO_ROOT

# CI sets this: there the tools must install, so a failure fails instead of skipping.
REQUIRED = os.environ.get("SWITCHYARD_REQUIRE_CLIENTS") == "1"
DEPLOY = REPO_ROOT / "deploy"


def prometheus_binary(name: str) -> str:
    """The path of `name` (promtool, prometheus); skipped, with the reason, only where
    `make prometheus-tool` cannot install it (no root, no Debian package index)."""
    found = shutil.which(name)
    if found is None:
        done = subprocess.run(
            ["make", "-s", "prometheus-tool"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        found = shutil.which(name)
        if found is None:
            tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
            message = f"{name} missing and `make prometheus-tool` could not install it: {tail}"
            if REQUIRED:
                pytest.fail(message)
            pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def promtool() -> str:
    return prometheus_binary("promtool")


@pytest.fixture
async def exported(tmp_path) -> frozenset[str]:
    """The metric names the services export after real routes (tests/deploy/exported.py)."""
    from tests.deploy.exported import exported_names

    return await exported_names(tmp_path)
