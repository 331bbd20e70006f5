"""A one-route aiohttp app per test, for replies the simulator does not produce."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
StartUpstream = Callable[[str, Handler], Awaitable[str]]


@pytest.fixture
async def upstream_app() -> AsyncIterator[StartUpstream]:
    """start(path, handler) serves POST `path` (e.g. /v1/messages) and returns the /v1 base URL."""
    runners: list[web.AppRunner] = []

    async def start(path: str, handler: Handler) -> str:
        app = web.Application()
        app.router.add_post(path, handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}/v1"

    yield start
    for runner in runners:
        await runner.cleanup()
