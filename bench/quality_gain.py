"""The router's own cascade escalating on expected gain (`escalate_gain`), as a team
would deploy it: `switchyard train verifier`'s scorer fitted on the weak model's answers
and `switchyard train router`'s predictor, both on the train half only, served by the
in-process router (`switchyard eval`'s path) with the margin swept on held-out.

The margins are quantiles of q_strong(prompt) − score(weak answer) on the train half, so
nothing about the held-out half picks them (as for the score selector's cost weights).
"""

from __future__ import annotations

import dataclasses
import string
from pathlib import Path

from bench.quality_common import (
    Roles,
    TrainedPredictor,
    needs_texts_and_pair,
    quantiles,
    sweep_row,
)
from switchyard.checks import training
from switchyard.checks.engine import QualityScorer
from switchyard.learning.evaluate import EvalSetup, StrategyResult
from switchyard.learning.predictor import load_predictor
from switchyard.learning.verifier_training import train_verifier

GAIN_POLICY = Path(__file__).resolve().parent / "quality" / "gain.yaml"


class RouterGainCascade:
    name = "router cascade on expected gain (escalate_gain swept), fitted on train"

    def __init__(self, points: int, predictor: TrainedPredictor) -> None:
        self.points = points
        self._predictor = predictor
        self._train: EvalSetup | None = None
        self._artefact: Path | None = None

    def skip_reason(self, held: EvalSetup, roles: Roles | None) -> str | None:
        return needs_texts_and_pair(held, roles)

    def fit(self, train: EvalSetup) -> None:
        self._train = train  # the scorer needs the roles, which come with evaluate()
        self._artefact = self._predictor.fit(train)

    def _margins(
        self, train: EvalSetup, weak: str, strong: str, artefact: Path, scorer: QualityScorer
    ) -> str:
        predictor = load_predictor(artefact)
        gaps = [
            predictor.predict(r.prompt, r.task_type, [strong]).get(strong, 0.5)
            - scorer.score(
                prompt=r.prompt,
                task_type=r.task_type,
                output=r.answers[weak].answer or "",
                finish_reason="stop",
            )
            for r in train.records
            if r.answers[weak].answer is not None
        ]
        picks = {round(v, 6) for v in quantiles(gaps, self.points)}
        # -1: escalate every weak answer; 1: never escalate.
        return ",".join(f"{v:.6f}" for v in sorted(picks | {-1.0, 1.0}))

    async def evaluate(self, held: EvalSetup, roles: Roles | None) -> StrategyResult:
        assert roles is not None and self._train is not None and self._artefact is not None
        weak, strong = held.model_map[roles.weak], held.model_map[roles.strong]
        train = list(self._train.records)
        scorer = train_verifier(train, [], seed=training.DEFAULT_SEED, answers_of={weak}).scorer
        margins = self._margins(self._train, weak, strong, self._artefact, scorer)
        source = string.Template(GAIN_POLICY.read_text()).substitute(
            artefact=str(self._artefact),
            weak=roles.weak,
            strong=roles.strong,
            weak_model=weak,
            strong_model=strong,
        )
        # Every point of the sweep loads the artefact, as a router would.
        return await sweep_row(
            self.name,
            dataclasses.replace(held, scorer=scorer),
            source,
            f"default.escalate_gain={margins}",
            label="router gain cascade",
            strong=roles.strong,
            points=self.points,
        )
