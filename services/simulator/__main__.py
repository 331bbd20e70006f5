"""`python -m services.simulator --port 8090 --models-file examples/simulator.yaml`.

HTTP rather than gRPC, so it does not use `runtime.serve`, but it behaves the same:
one-line error and exit 2 when it cannot start, port file written once listening,
first SIGTERM/SIGINT drains (health turns 503, in-flight requests finish within
grace_s), a second exits at once.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog

from services.simulator.app import start_simulator
from services.simulator.config import ENV_PREFIX, SimulatorConfig
from services.simulator.engine import AnswerSource, Fleet
from services.simulator.models import load_profiles
from services.simulator.replay import load_replay
from switchyard.runtime.config import load_config
from switchyard.runtime.errors import StartupError
from switchyard.runtime.files import write_atomically
from switchyard.runtime.logging import configure_logging
from switchyard.runtime.server import run_service
from switchyard.runtime.shutdown import wait_for_stop_signal

log = structlog.get_logger("services.simulator")


def build_fleet(config: SimulatorConfig) -> Fleet:
    """Profiles from the models file, the seed, and the replay index when asked for."""
    profiles = load_profiles(config.models_file)
    seed = config.seed if config.seed is not None else random.SystemRandom().randrange(1 << 31)
    replay: AnswerSource | None = None
    if config.replay:
        loaded = load_replay(config.replay, Path(config.data_dir))
        loaded.check_mapping(profiles)
        for index in loaded.indexes:
            mapped = {
                n: p.replay[index.dataset] for n, p in profiles.items() if index.dataset in p.replay
            }
            log.info(
                "replay.loaded", dataset=index.dataset, prompts=len(index.answers), models=mapped
            )
            if not mapped:
                # Likely a misspelt key: `replay:` must name the file's stem.
                log.warning(
                    "replay.unmapped", dataset=index.dataset, models_file=config.models_file
                )
        replay = loaded
    return Fleet(profiles, seed=seed, replay=replay)


def write_port_file(path: str, port: int) -> None:
    write_atomically(path, str(port), durable=False)  # readers never see a partial port


async def serve(config: SimulatorConfig) -> None:
    configure_logging(service="simulator", level=config.log_level)
    fleet = build_fleet(config)
    runner, port = await start_simulator(
        fleet,
        host=config.host,
        port=config.port,
        grace_s=config.grace_s,
        reuse_port=config.reuse_port,
    )
    if config.port_file:
        write_port_file(config.port_file, port)
    log.info(
        "service.ready",
        host=config.host,
        port=port,
        models=sorted(fleet.models),
        seed=fleet.seed,
        replay=list(config.replay) or None,
    )

    try:
        await wait_for_stop_signal(grace_s=config.grace_s)
    finally:
        fleet.draining = True
        await runner.cleanup()  # stop listening, wait up to grace_s for in-flight requests
        log.info("service.stopped")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = load_config(
            SimulatorConfig,
            env_prefix=ENV_PREFIX,
            argv=argv,
            description="Switchyard simulator: OpenAI/Anthropic-compatible simulated models",
        )
    except StartupError as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    return run_service(lambda: serve(config), name="simulator")


if __name__ == "__main__":
    sys.exit(main())
