"""Fixtures for the control-plane tests (helpers live in cp_harness)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.controlplane.cp_harness import (
    ControlPlaneUnderTest,
    start_control_plane,
    stop_control_plane,
)


@pytest.fixture
async def cp(tmp_path: Path) -> AsyncIterator[ControlPlaneUnderTest]:
    running = await start_control_plane(tmp_path / "cp.db")
    try:
        yield running
    finally:
        await stop_control_plane(running)
