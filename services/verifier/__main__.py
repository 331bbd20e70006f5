"""`python -m services.verifier --port N [--port-file F] [--scorer-path P]`."""

from __future__ import annotations

import sys

import structlog

from services.verifier.config import VerifierConfig
from services.verifier.servicer import VerifierServicer, register_verifier
from switchyard.checks import QualityScorer
from switchyard.checks.scorer import DEFAULT_ARTIFACT, ArtifactError
from switchyard.checks.scorer import load_scorer as load_artifact
from switchyard.runtime.config import load_config
from switchyard.runtime.errors import StartupError
from switchyard.runtime.server import run_service, serve

log = structlog.get_logger(__name__)


def load_scorer(config: VerifierConfig) -> QualityScorer | None:
    """The quality scorer the service uses; None runs deterministic checks only."""
    if config.scorer_path.lower() == "none":
        log.warning("scorer.disabled")
        return None
    path = config.scorer_path or DEFAULT_ARTIFACT
    try:
        scorer = load_artifact(path)
    except ArtifactError as exc:
        raise StartupError(str(exc)) from exc
    scorer.warm()  # the first Verify must not pay for loading WordLlama
    log.info("scorer.loaded", version=scorer.version, path=str(path))
    return scorer


async def main() -> None:
    config = load_config(
        VerifierConfig,
        env_prefix="SWITCHYARD_VERIFIER_",
        description="Switchyard verifier: acceptability checks and ranking",
    )
    scorer = load_scorer(config)
    servicer = VerifierServicer(
        scorer=scorer,
        cache_size=config.compiled_cache_size,
        max_rank_candidates=config.max_rank_candidates,
    )
    await serve(
        name="verifier",
        config=config,
        register=register_verifier(servicer),
        workers=config.workers,
    )


if __name__ == "__main__":
    sys.exit(run_service(main, name="verifier"))
