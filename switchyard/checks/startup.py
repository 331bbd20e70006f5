"""A service's `scorer_path` setting, the same for the verifier and the routers'
embedded verification: they must score alike, as the second stands in for the first."""

from __future__ import annotations

import structlog

from switchyard.checks.scorer import (
    DEFAULT_ARTIFACT,
    ArtifactError,
    LogisticQualityScorer,
    load_scorer,
)
from switchyard.runtime.errors import StartupError

log = structlog.get_logger(__name__)

# `--scorer-path none`: run the deterministic checks only.
NO_SCORER = "none"


def startup_scorer(setting: str) -> LogisticQualityScorer | None:
    """Empty: the packaged artefact; `none`: no scorer (min_score > 0 cannot be met);
    anything else: the artefact at that path. Loaded and warmed now, so a bad artefact
    fails the start-up (StartupError naming it) and the first answer scored does not
    pay for loading WordLlama."""
    if setting.lower() == NO_SCORER:
        log.warning("scorer.disabled", detail="scorer_path none: min_score > 0 cannot be met")
        return None
    path = str(setting or DEFAULT_ARTIFACT)
    try:
        scorer = load_scorer(path)
    except ArtifactError as exc:
        detail = str(exc) if path in str(exc) else f"{path}: {exc}"
        raise StartupError(f"scorer_path {detail}") from exc
    scorer.warm()
    log.info("scorer.loaded", version=scorer.version, path=setting or "packaged")
    return scorer
