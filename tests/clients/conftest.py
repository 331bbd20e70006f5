"""One real suite (simulator, registry, verifier, control plane, router) shared by the
client tests in this folder: the Python CLI, the TypeScript and the C++ clients.

Its router checks callers' tokens with examples/tenants.yaml, as under `make run`, so
these tests show that each client sends the dev token by default."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchyard.suite import EXAMPLES, Suite, SuitePorts, SuiteSettings


@pytest.fixture(scope="package")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    # Sync on purpose: the clients under test are separate processes, and the suite's
    # processes are plain subprocesses, so no event loop has to outlive the fixture.
    running = Suite(
        SuiteSettings(
            state_dir=Path(tmp_path_factory.mktemp("suite")),
            ports=SuitePorts.ephemeral(),
            tenant_tokens_file=EXAMPLES / "tenants.yaml",
        )
    )
    asyncio.run(running.start())
    try:
        yield running
    finally:
        asyncio.run(running.stop())


@pytest.fixture(scope="package")
def router_address(suite: Suite) -> str:
    return suite.address("router")
