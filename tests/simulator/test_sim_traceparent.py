"""The simulator keeps the W3C traceparent headers its callers send, per model, bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.simulator.engine import MAX_TRACEPARENT_CHARS, RECENT_TRACEPARENTS
from services.simulator.testing import RunningSimulator, running_simulator

MODELS = {"good": {"ttft_ms": 0}, "other": {"ttft_ms": 0}}
CHAT = {"model": "good", "messages": [{"role": "user", "content": "Explain the Raft protocol"}]}


def traceparent(n: int) -> str:
    return f"00-{n + 1:032x}-{n + 1:016x}-01"


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with running_simulator(MODELS, seed=1) as running:
        yield running


async def admin(http: aiohttp.ClientSession, sim: RunningSimulator, model: str) -> dict:
    async with http.get(f"{sim.url}/admin/models/{model}") as reply:
        return await reply.json()


async def test_the_admin_endpoint_lists_the_latest_traceparents_of_each_model(
    sim: RunningSimulator,
) -> None:
    """Both wire formats record the header; calls without one record nothing; only the
    model called sees it; the list keeps the newest RECENT_TRACEPARENTS, oldest first,
    and cuts an overlong header."""
    async with aiohttp.ClientSession() as http:
        await http.post(f"{sim.base_url}/chat/completions", json=CHAT)
        assert (await admin(http, sim, "good"))["traceparents"] == []
        for n in range(RECENT_TRACEPARENTS + 2):
            async with http.post(
                f"{sim.base_url}/chat/completions",
                json=CHAT,
                headers={"traceparent": traceparent(n)},
            ) as reply:
                assert reply.status == 200
        async with http.post(
            f"{sim.base_url}/messages",
            json={**CHAT, "max_tokens": 50},
            headers={"traceparent": "x" * 1000},
        ) as reply:
            assert reply.status == 200
        good = await admin(http, sim, "good")
        assert (await admin(http, sim, "other"))["traceparents"] == []
    seen = good["traceparents"]
    assert len(seen) == RECENT_TRACEPARENTS
    assert seen[0] == traceparent(3) and seen[-2] == traceparent(RECENT_TRACEPARENTS + 1)
    assert seen[-1] == "x" * MAX_TRACEPARENT_CHARS
    assert good["counters"]["traced"] == RECENT_TRACEPARENTS + 3
