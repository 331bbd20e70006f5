"""Active health checks of models whose breaker is OPEN, for fast recovery.

An OPEN breaker waits out `open_wait` (doubling on each failed half-open round) before
real traffic may probe the model again, so a model server that comes back early sat
unused for seconds. While a breaker is OPEN, this probes the model's endpoint with a
one-token completion through the same provider adapter as real calls, on a short,
jittered schedule; the first success moves the breaker to HALF_OPEN at once and real
requests take the probe slots from there. A probe costs one output token.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

import structlog

from services.router.breakers import BreakerBoard
from services.router.fleet import FleetView, ModelProfile
from services.router.providers.base import ChatTurn, CompletionRequest, Outcome, Provider

log = structlog.get_logger(__name__)

PROBE_MESSAGES = (ChatTurn("user", "ping"),)


class OpenModelProber:
    def __init__(
        self,
        *,
        breakers: BreakerBoard,
        fleet: Callable[[], FleetView],
        provider_for: Callable[[ModelProfile], Provider],
        interval_s: float = 0.5,
        jitter: float = 0.2,
        timeout_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._breakers = breakers
        self._fleet = fleet
        self._provider_for = provider_for
        self._interval_s = interval_s
        self._jitter = jitter
        self._timeout_s = timeout_s
        self._sleep = sleep
        self._rng = rng
        self.probes_sent = 0

    async def run(self) -> None:
        """Probe every OPEN model once per jittered interval, until cancelled."""
        while True:
            # Jitter keeps a fleet of routers from probing a recovering server in step.
            spread = 1.0 + self._jitter * (2.0 * self._rng() - 1.0)
            await self._sleep(self._interval_s * spread)
            await self.probe_open_models()

    async def probe_open_models(self) -> None:
        opened = self._breakers.open_models()
        if opened:
            await asyncio.gather(*(self._probe(model_id) for model_id in opened))

    async def _probe(self, model_id: str) -> None:
        profile = self._fleet().get(model_id)
        if profile is None:
            return
        self.probes_sent += 1
        with contextlib.suppress(Exception):  # a probe must never take the router down
            completion = await self._provider_for(profile).complete(
                CompletionRequest(
                    upstream_model=profile.upstream_model,
                    messages=PROBE_MESSAGES,
                    max_tokens=1,
                    timeout_s=self._timeout_s,
                    temperature=0.0,
                    health_check=True,
                )
            )
            if completion.outcome in (Outcome.OK, Outcome.TRUNCATED):
                if self._breakers.get(model_id).probe_succeeded():
                    log.info("breaker.health_probe_passed", model=model_id)
