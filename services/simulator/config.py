"""Simulator process configuration (frozen, built once by `load_config`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from switchyard.runtime.config import ServerConfig
from switchyard.runtime.errors import StartupError

ENV_PREFIX = "SWITCHYARD_SIMULATOR_"
REPLAY_DATASETS = ("gsm8k", "routerarena")
# The repository sits next to the shared data folder (../shared/data from the repo root).
DEFAULT_DATA_DIR = str(Path(__file__).resolve().parents[2].parent / "shared" / "data")


@dataclasses.dataclass(frozen=True)
class SimulatorConfig(ServerConfig):
    """Where the simulator listens, which models it simulates and how it draws randomness.

    Inherits host/port/port_file/grace_s/log_level/reuse_port from `ServerConfig`;
    `metrics_port` is accepted for symmetry but unused (the simulator has no metrics).
    """

    port: int = 8090
    models_file: str = "examples/simulator.yaml"
    # Fixed seed makes every model's draws reproducible; None draws a fresh seed.
    seed: int | None = None
    # "" (synthetic answers only), "gsm8k" or "routerarena".
    replay: str = ""
    data_dir: str = DEFAULT_DATA_DIR

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.models_file:
            raise StartupError("models_file is required (--models-file PATH)")
        if self.replay and self.replay not in REPLAY_DATASETS:
            raise StartupError(
                f"replay must be one of {', '.join(REPLAY_DATASETS)}, got {self.replay!r}"
            )
