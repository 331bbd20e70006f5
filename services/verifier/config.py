"""Verifier configuration: the shared server settings plus the scorer and cache."""

from __future__ import annotations

from dataclasses import dataclass

from switchyard.runtime.config import ServerConfig
from switchyard.runtime.errors import StartupError


@dataclass(frozen=True)
class VerifierConfig(ServerConfig):
    # Quality scorer artefact (JSON weights). Empty: the packaged default artefact;
    # "none": run without a scorer (min_score > 0 is then FAILED_PRECONDITION).
    scorer_path: str = ""
    # Compiled check sets kept, keyed by the request's serialized checks.
    compiled_cache_size: int = 512
    # Most candidates one Rank call may carry.
    max_rank_candidates: int = 64
    # Processes serving the port (the verifier is stateless and CPU-bound: one per
    # core is how it scales). Worker i > 0 serves /metrics on metrics_port + i.
    workers: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.compiled_cache_size < 1:
            raise StartupError(f"compiled_cache_size must be >= 1, got {self.compiled_cache_size}")
        if self.max_rank_candidates < 1:
            raise StartupError(f"max_rank_candidates must be >= 1, got {self.max_rank_candidates}")
