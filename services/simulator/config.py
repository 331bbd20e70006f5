"""Simulator process configuration (frozen, built once by `load_config`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from switchyard.runtime.config import ServerConfig
from switchyard.runtime.errors import StartupError

ENV_PREFIX = "SWITCHYARD_SIMULATOR_"
# Built-in replays: imports of the shared data (docs/datasets.md). MMLU records only
# labels, so it has nothing to replay.
REPLAY_DATASETS = ("gsm8k", "mt-bench", "routerarena")
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
    # Datasets to replay, in lookup order: dataset files (JSONL in the labelled-dataset
    # format) or built-in names; empty = synthetic answers only. `--replay` repeats.
    replay: tuple[str, ...] = ()
    # Where the built-in replays read the shared data from.
    data_dir: str = DEFAULT_DATA_DIR

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.models_file:
            raise StartupError("models_file is required (--models-file PATH)")
        if isinstance(self.replay, str):  # SimulatorConfig(replay="a.jsonl,gsm8k")
            sources = tuple(s.strip() for s in self.replay.split(",") if s.strip())
            object.__setattr__(self, "replay", sources)
        for source in self.replay:
            path = Path(source)
            # A bare word is meant as a built-in name; anything else is a file path.
            if source not in REPLAY_DATASETS and not path.suffix and path.name == source:
                raise StartupError(
                    f"replay {source!r} is neither a built-in dataset "
                    f"({', '.join(REPLAY_DATASETS)}) nor a dataset file (e.g. logs.jsonl)"
                )
