"""`make bench-quality` rows for data with more than two models (a team's own dataset,
`--dataset FILE`): the router's `score` and `auto` selectors over every model, with a
predictor `switchyard train router`'s code fits on the train half only.

The two-model rows (bench/quality_strategies.py) are RouteLLM's weak/strong set-up; with
three or more models there is no single weak/strong pair, so these rows are judged by
AIQ and by whether a single model dominates their curve. Their sweeps are the ones
`switchyard eval --sweep` draws on any data: `cost_weight` on its fixed log grid and
`quality_floor` from a pilot run at 1, so nothing about the held-out half picks a value.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.quality_common import Roles, TrainedPredictor, sweep_row
from switchyard.learning import report
from switchyard.learning.evaluate import EvalSetup, StrategyResult

# Both selectors may spend what any model costs and wait as long as any answers: the
# sweep, not a budget or an SLO, is what trades quality for cost here.
_LIMITS = "slo_ms: 600000\nmax_deadline_ms: 600000\nbudget_micros: 100000000\n"


def every_model_policy(held: EvalSetup, artefact: Path, strategy: str) -> str:
    """A policy whose default rule runs `strategy` (YAML flow mapping, without its
    `models`) over every fleet model the data maps, with the trained predictor."""
    models = list(held.models)
    mapping = {fleet: held.model_map[fleet] for fleet in models}
    return (
        "name: every-model\n"
        + _LIMITS
        + f"predictor:\n  artefact: {json.dumps(str(artefact))}\n"
        + f"  models: {json.dumps(mapping)}\n"
        + "default:\n  name: every-model\n"
        + f"  strategy: {{{strategy}, models: {json.dumps(models)}}}\n"
    )


class _EveryModel:
    """One selector over every model, swept on held-out; `evaluate` runs the sweep."""

    name = ""
    needs_texts = False

    def __init__(self, points: int, predictor: TrainedPredictor) -> None:
        self.points = points
        self._predictor = predictor
        self._artefact: Path | None = None

    def skip_reason(self, held: EvalSetup, roles: Roles | None) -> str | None:
        if len(held.models) <= 2:
            return "two-model data: the weak/strong rows above cover it"
        if self.needs_texts and not report.has_answer_texts(held):
            return "the data has no answer texts to verify"
        return None

    def fit(self, train: EvalSetup) -> None:
        self._artefact = self._predictor.fit(train)

    async def _sweep(self, held: EvalSetup, strategy: str, knob: str, label: str) -> StrategyResult:
        assert self._artefact is not None, "fit() first"
        source = every_model_policy(held, self._artefact, strategy)
        return await sweep_row(
            self.name, held, source, knob, label=label, strong=None, points=self.points
        )


class EveryModelScore(_EveryModel):
    name = "score selector over every model + learned predictor, cost weight swept"

    async def evaluate(self, held: EvalSetup, roles: Roles | None) -> StrategyResult:
        strategy = "selector: score, weights: {quality: 1.0, cost: 0.5, latency: 0.0}"
        return await self._sweep(
            held, strategy + ", max_fallbacks: 0", "cost_weight", "every-model score"
        )


class EveryModelAuto(_EveryModel):
    """Cascades of up to two models, cheapest first, chosen per request by expected cost
    at a quality floor; the verifier's deterministic checks decide each escalation (the
    rule sets no `min_score`, so no scorer figure is a bar: a cascade row on one team's
    scorer is `switchyard eval --scorer-path ... --sweep min_score`)."""

    name = "auto selector over every model + learned predictor, quality floor swept"
    needs_texts = True

    async def evaluate(self, held: EvalSetup, roles: Roles | None) -> StrategyResult:
        strategy = "selector: auto, max_depth: 2, min_quality: 0.8"
        return await self._sweep(held, strategy, "quality_floor", "every-model auto")
