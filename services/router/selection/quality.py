"""Predicted quality per request from the learned predictor a policy names.

A predictor that raises never fails the route: the error is counted and logged and
the selector uses registry quality for that request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from services.router.plan import RouteInput
from switchyard.policy import PredictorRef

log = structlog.get_logger(__name__)


class QualityModel(Protocol):
    """What the router needs of `switchyard.learning.predictor.QualityPredictor`."""

    def predict(self, prompt: str, task_type: str, models: Sequence[str]) -> dict[str, float]: ...


@dataclass
class PredictorFailures:
    """Run-time predictor errors (exported as a metric by the servicer's caller)."""

    count: int = 0


FAILURES = PredictorFailures()


@dataclass(frozen=True)
class BoundPredictor:
    """A loaded predictor with the policy's fleet-id → artefact-name mapping."""

    model: QualityModel
    ref: PredictorRef

    def predict(self, request: RouteInput, model_ids: Sequence[str]) -> dict[str, float]:
        """P(acceptable) per fleet model id the artefact covers; {} on any error."""
        names = {m: self.ref.artefact_model(m) for m in model_ids}
        try:
            raw = self.model.predict(request.prompt, request.task_type, sorted(set(names.values())))
        except Exception as exc:  # a broken artefact must not fail the route
            FAILURES.count += 1
            log.warning("predictor.failed", artefact=self.ref.artefact, error=repr(exc))
            return {}
        return {m: float(raw[n]) for m, n in names.items() if n in raw}
