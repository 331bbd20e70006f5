"""An in-process simulator for tests: `async with running_simulator({...}) as sim:`.

Any test suite (router, bench smoke tests) can use it to get a real HTTP endpoint on
port 0 and reach into `sim.fleet` to change faults without going through HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from services.simulator.app import start_simulator
from services.simulator.engine import AnswerSource, Fleet, SimulatedModel
from services.simulator.models import ModelProfile, parse_profile
from switchyard.runtime.errors import StartupError


@dataclass(frozen=True)
class RunningSimulator:
    fleet: Fleet
    port: int

    @property
    def url(self) -> str:
        """Server root, e.g. http://127.0.0.1:PORT (admin and health live here)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """API base for provider adapters: http://127.0.0.1:PORT/v1."""
        return f"{self.url}/v1"

    def model(self, name: str) -> SimulatedModel:
        return self.fleet.models[name]


def profiles_from(
    models: Mapping[str, Mapping[str, Any] | ModelProfile],
) -> dict[str, ModelProfile]:
    """Profiles from plain settings mappings (the YAML shape), validated the same way."""
    profiles = {}
    for name, raw in models.items():
        if isinstance(raw, ModelProfile):
            profiles[name] = raw
            continue
        profile, problems = parse_profile(name, raw)
        if profile is None:
            raise StartupError("; ".join(f"{v.field}: {v.description}" for v in problems))
        profiles[name] = profile
    return profiles


@asynccontextmanager
async def running_simulator(
    models: Mapping[str, Mapping[str, Any] | ModelProfile],
    *,
    seed: int = 0,
    replay: AnswerSource | None = None,
) -> AsyncIterator[RunningSimulator]:
    fleet = Fleet(profiles_from(models), seed=seed, replay=replay)
    runner, port = await start_simulator(fleet, port=0, grace_s=1.0)
    try:
        yield RunningSimulator(fleet, port)
    finally:
        await runner.cleanup()
