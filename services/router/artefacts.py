"""Loading the learned predictor a policy names, checked before the policy is used.

A policy whose artefact is missing, fails its hash, or covers none of the models a
score/auto rule may choose is refused (the snapshot is NACKed and the last good policy
stays); a model the artefact lacks falls back to registry quality at selection time.
"""

from __future__ import annotations

from pathlib import Path

from services.router.artefact_cache import PREFIX, ArtefactCache
from services.router.selection import BoundPredictor
from switchyard.policy import Policy
from switchyard.runtime.errors import FieldViolation


def resolve(artefact: str, artefacts_dir: Path, cache: ArtefactCache | None = None) -> Path:
    """A content address (sha256:...) is the control plane's artefact in `cache`; a path
    is the operator's own file, relative paths under `artefacts_dir`."""
    if cache is not None and artefact.startswith(PREFIX):
        return cache.path(artefact)
    path = Path(artefact)
    return path if path.is_absolute() else artefacts_dir / path


def load_bound_predictor(
    policy: Policy, artefacts_dir: Path, cache: ArtefactCache | None = None
) -> tuple[BoundPredictor | None, list[FieldViolation]]:
    """The policy's predictor, or the violations that make the policy unusable."""
    ref = policy.predictor
    if ref is None:
        return None, []
    # Imported here: routers whose policies name no artefact never load numpy et al.
    from switchyard.learning.predictor import ArtefactError, load_predictor

    if cache is not None and ref.artefact.startswith(PREFIX) and not cache.verified(ref.artefact):
        return None, [
            FieldViolation("predictor.artefact", f"{ref.artefact} is missing or fails its hash")
        ]
    try:
        model = load_predictor(
            resolve(ref.artefact, artefacts_dir, cache), expected_hash=ref.sha256 or None
        )
    except (ArtefactError, ValueError) as exc:
        return None, [FieldViolation("predictor.artefact", str(exc))]
    problems = [
        FieldViolation(f"predictor.models.{fleet_id}", f"the artefact has no model {name!r}")
        for fleet_id, name in sorted(ref.models.items())
        if name not in model.models
    ]
    for i, rule in enumerate(policy.all_rules):
        if rule.strategy.selector.kind == "static":
            continue
        covered = [m for m in rule.strategy.models if ref.artefact_model(m) in model.models]
        if not covered:
            where = f"rules[{i}]" if i < len(policy.rules) else "default"
            problems.append(
                FieldViolation(
                    f"{where}.strategy.models",
                    f"the predictor artefact covers none of {list(rule.strategy.models)}"
                    f" (it was built for {sorted(model.models)})",
                )
            )
    return BoundPredictor(model, ref), problems
