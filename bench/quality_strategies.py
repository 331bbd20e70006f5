"""The strategies `make bench-quality` compares (bench/quality.py), one small object each.

A `Strategy` is fitted on a dataset's train half and evaluated on its held-out half into
one `StrategyResult` row; `skip_reason` says when the data cannot serve it. Learned
selectors become rows by adding an object to `strategies()`; fit them in `fit`, on the
train half only.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path

from bench.quality_common import (
    NEEDS_PAIR,
    Roles,
    Strategy,
    TrainedPredictor,
    needs_texts_and_pair,
    quantiles,
    sweep_row,
)
from bench.quality_every import EveryModelAuto, EveryModelScore
from bench.quality_gain import RouterGainCascade
from switchyard.checks import training
from switchyard.checks.scorer import default_scorer
from switchyard.learning import metrics, report
from switchyard.learning.dataset import DatasetRecord
from switchyard.learning.escalation import EscalationChoice, choose_escalation, usable
from switchyard.learning.evaluate import EvalSetup, OperatingPoint, StrategyResult
from switchyard.learning.predictor import load_predictor
from switchyard.policy import parse_policy

CASCADE_POLICY = Path(__file__).resolve().parent / "quality" / "cascade.yaml"
LEARNED_POLICY = Path(__file__).resolve().parent / "quality" / "learned.yaml"
PARALLEL_POLICY = Path(__file__).resolve().parent / "quality" / "parallel.yaml"
VOTE_POLICY = Path(__file__).resolve().parent / "quality" / "vote.yaml"


class ScorerCascade:
    """The verifier's APGR path: escalate the weak answer to the strong model when the
    packaged quality scorer's P(acceptable) is below a threshold, every threshold swept;
    the strong answer is always kept. Same code as `switchyard verifier eval`."""

    name = "cascade weak→strong, scorer threshold swept (strong answer kept)"

    def skip_reason(self, held: EvalSetup, roles: Roles | None) -> str | None:
        return needs_texts_and_pair(held, roles)

    def fit(self, train: EvalSetup) -> None:
        """Nothing to fit: the packaged artefact was trained on the same train halves."""

    async def evaluate(self, held: EvalSetup, roles: Roles | None) -> StrategyResult:
        assert roles is not None
        scorer = default_scorer()
        records = held.records
        scores = [
            scorer.score(
                prompt=r.prompt,
                task_type=r.task_type,
                output=held.answer(r, roles.weak).answer or "",
                finish_reason="stop",
            )
            for r in records
        ]
        return _swept_cascade(self.name, held, roles, records, scores)


class RouterCascade:
    """The router's own cascade (bench/quality/cascade.yaml) through `switchyard eval`'s
    in-process path, its rule's min_score swept: what the router does today."""

    name = "router cascade policy, min_score swept"

    def __init__(self, points: int) -> None:
        self.points = points

    def skip_reason(self, held: EvalSetup, roles: Roles | None) -> str | None:
        return needs_texts_and_pair(held, roles)

    def fit(self, train: EvalSetup) -> None:
        """Nothing to fit: the threshold grid comes from a pilot run's scores."""

    async def evaluate(self, held: EvalSetup, roles: Roles | None) -> StrategyResult:
        assert roles is not None
        source = string.Template(CASCADE_POLICY.read_text()).substitute(
            weak=roles.weak, strong=roles.strong
        )
        return await sweep_row(
            self.name,
            held,
            source,
            "min_score",
            label="router cascade",
            strong=roles.strong,
            points=self.points,
        )


class LearnedScore:
    """The router's `score` selector with a learned predictor: `switchyard train router`'s
    code fits P(acceptable | prompt) per model on the train half only, and the selector
    takes the strong model when its predicted gain beats the cost weight (see
    bench/quality/learned.yaml). The swept weights are quantiles of the predicted gain
    q_strong − q_weak on the train half, so nothing about the held-out half (labels or
    predictions) picks them. Works from prompts alone, so MMLU (no answer texts) gets a
    row too."""

    name = "score selector + learned predictor, cost weight swept"

    def __init__(self, points: int, predictor: TrainedPredictor) -> None:
        self.points = points
        self._predictor = predictor
        self._artefact: Path | None = None
        self._train_predictions: dict[str, list[float]] = {}

    def skip_reason(self, held: EvalSetup, roles: Roles | None) -> str | None:
        return None if roles is not None else NEEDS_PAIR

    def fit(self, train: EvalSetup) -> None:
        self._artefact = self._predictor.fit(train)
        predictor = load_predictor(self._artefact)
        by_dataset_model: dict[str, list[float]] = {m: [] for m in train.model_map.values()}
        for record in train.records:
            got = predictor.predict(record.prompt, record.task_type, list(by_dataset_model))
            for model, values in by_dataset_model.items():
                values.append(got.get(model, float("nan")))
        self._train_predictions = {
            fleet: by_dataset_model[dataset] for fleet, dataset in train.model_map.items()
        }

    def _weights(self, roles: Roles) -> list[float]:
        gains = [
            s - w
            for s, w in zip(
                self._train_predictions[roles.strong],
                self._train_predictions[roles.weak],
                strict=True,
            )
            if s == s and w == w  # both predicted (not NaN)
        ]
        picks = {round(max(0.0, v), 6) for v in quantiles(gains, self.points)}
        # 0: always the better predicted model; 2: never pays for the strong one.
        return sorted(picks | {0.0, 2.0})

    def source(self, held: EvalSetup, roles: Roles) -> str:
        """bench/quality/learned.yaml for this dataset, with the fitted artefact."""
        assert self._artefact is not None, "fit() first"
        return string.Template(LEARNED_POLICY.read_text()).substitute(
            artefact=str(self._artefact),
            weak=roles.weak,
            strong=roles.strong,
            weak_model=held.model_map[roles.weak],
            strong_model=held.model_map[roles.strong],
        )

    async def evaluate(self, held: EvalSetup, roles: Roles | None) -> StrategyResult:
        assert roles is not None
        values = ",".join(f"{v:.6f}" for v in self._weights(roles))
        return await sweep_row(
            self.name,
            held,
            self.source(held, roles),
            f"default.strategy.weights.cost={values}",
            label="learned score",
            strong=roles.strong,
            points=self.points,
        )


class LearnedShare:
    """The same rule with `strong_share` (docs/routing.md#score): its dearest model goes
    first on that share of requests, by an online threshold on the predicted gain over
    the rule's recent traffic, which the in-process router feeds as Route() does. The
    share is swept evenly over 0..1; the predictor is the score row's."""

    name = "score selector + learned predictor, strong share swept"

    def __init__(self, score: LearnedScore) -> None:
        self._score = score

    def skip_reason(self, held: EvalSetup, roles: Roles | None) -> str | None:
        return self._score.skip_reason(held, roles)

    def fit(self, train: EvalSetup) -> None:
        """Nothing: the score row, fitted just before, holds the predictor."""

    async def evaluate(self, held: EvalSetup, roles: Roles | None) -> StrategyResult:
        assert roles is not None
        source = self._score.source(held, roles)
        marker = "    max_fallbacks: 0\n"
        assert marker in source, "bench/quality/learned.yaml changed its layout"
        source = source.replace(marker, marker + "    strong_share: 0.5\n")
        return await sweep_row(
            self.name,
            held,
            source,
            "strong_share",
            label="learned share",
            strong=roles.strong,
            points=self._score.points,
        )


class FittedCascade:
    """A weak→strong cascade whose escalation rule is learned from THIS dataset's train
    half only (switchyard/learning/escalation.py): the verifier's scorer fitted on the
    weak model's answers and the router's prompt predictors, ranked by whichever of
    answer score, expected gain or a stacked blend has the best cross-validated APGR on
    train. Every threshold is swept on held-out; the strong answer is always kept."""

    name = "cascade weak→strong, verifier+predictor fitted on train, ranking by CV"

    def __init__(self) -> None:
        self._train: EvalSetup | None = None
        self.choice: EscalationChoice | None = None

    def skip_reason(self, held: EvalSetup, roles: Roles | None) -> str | None:
        return needs_texts_and_pair(held, roles)

    def fit(self, train: EvalSetup) -> None:
        # The roles come with evaluate(); the fit needs them, so it is deferred there.
        self._train = train

    @property
    def note(self) -> str | None:
        if self.choice is None:
            return None
        return f"chose ranking {self.choice.ranking!r} by train CV APGR {self.choice.cv_apgr}"

    async def evaluate(self, held: EvalSetup, roles: Roles | None) -> StrategyResult:
        assert roles is not None and self._train is not None
        weak, strong = held.model_map[roles.weak], held.model_map[roles.strong]
        self.choice = choose_escalation(
            list(self._train.records), weak, strong, seed=training.DEFAULT_SEED
        )
        records = usable(held.records, weak, strong)
        scores = [float(v) for v in self.choice.scores(records)]
        return _swept_cascade(self.name, held, roles, records, scores)


class Ensemble:
    """An ensemble policy (bench/quality/parallel.yaml, vote.yaml) over the weak and strong
    models through the router's own executors: one operating point, both models paid."""

    def __init__(self, name: str, policy: Path) -> None:
        self.name = name
        self._policy = policy

    def skip_reason(self, held: EvalSetup, roles: Roles | None) -> str | None:
        return needs_texts_and_pair(held, roles)

    def fit(self, train: EvalSetup) -> None:
        """Nothing to fit: the verifier's packaged scorer ranks, the policy is fixed."""

    async def evaluate(self, held: EvalSetup, roles: Roles | None) -> StrategyResult:
        assert roles is not None
        source = string.Template(self._policy.read_text()).substitute(
            weak=roles.weak, strong=roles.strong
        )
        policy = parse_policy(source, known_models=list(held.profiles))
        row = await report.policy_result(
            held, policy, name=self.name, kind="policy", strong=roles.strong
        )
        return row


def strategies(points: int) -> list[Strategy]:
    """Every strategy that exists today; learned selectors are added here as rows."""
    predictor = TrainedPredictor()  # one fit per train half, for every row routing with it
    learned = LearnedScore(points, predictor)
    return [
        ScorerCascade(),
        FittedCascade(),
        RouterCascade(points),
        RouterGainCascade(points, predictor),
        learned,
        LearnedShare(learned),
        Ensemble("parallel(2), verifier-ranked", PARALLEL_POLICY),
        Ensemble("vote(2) on final answers/labels, tie → verifier score", VOTE_POLICY),
        EveryModelScore(points, predictor),
        EveryModelAuto(points, predictor),
    ]


def _swept_cascade(
    name: str,
    held: EvalSetup,
    roles: Roles,
    records: Sequence[DatasetRecord],
    scores: Sequence[float],
) -> StrategyResult:
    """A weak→strong cascade escalating below every threshold of `scores` (one per
    record), its curve as the strategy's result."""
    curve = metrics.escalation_curve(
        scores,
        [held.quality(r, roles.weak) for r in records],
        [held.quality(r, roles.strong) for r in records],
        weak_cost=[held.cost(r, roles.weak) for r in records],
        strong_cost=[held.cost(r, roles.strong) for r in records],
    )
    return StrategyResult(
        name=name,
        kind="cascade",
        point=None,
        curve=tuple(
            OperatingPoint(p.quality, p.cost, p.strong_fraction, f"< {p.threshold:.3f}")
            for p in curve.curve
        ),
        requests=len(records),
    )
