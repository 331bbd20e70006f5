"""`python -m services.verifier --port N [--port-file F] [--scorer-path P]`."""

from __future__ import annotations

import sys

from services.verifier.config import VerifierConfig
from services.verifier.servicer import VerifierServicer, register_verifier
from switchyard.checks.startup import startup_scorer
from switchyard.runtime.config import load_config
from switchyard.runtime.server import run_service, serve


async def main() -> None:
    config = load_config(
        VerifierConfig,
        env_prefix="SWITCHYARD_VERIFIER_",
        description="Switchyard verifier: acceptability checks and ranking",
    )
    scorer = startup_scorer(config.scorer_path)
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
