"""Fitting the verifier's probabilistic quality check from any labelled dataset whose
answers carry their text (`switchyard train verifier`).

Every answer with text becomes a labelled example (the verifier's answer features,
`switchyard.checks.features.extract`, label = acceptable); examples are grouped into
task families (math, code, general) and one logistic model is fitted per family with
enough examples of both labels. Per family, cross-validation on train chooses the L2
strength and whether the model also reads the answer's WordLlama embedding (the router
predictors' embedding, `switchyard.learning.features`): the hand-made features are
mostly about maths, the embedding says what an answer is about and how it is put, on
any kind of task. The fit is `switchyard.checks.training` (scikit-learn, as for the
router's predictors); the artefact is the verifier's `switchyard.quality_scorer/1`
format, or /2 when a family reads the embedding. Every figure comes from the held-out
records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from switchyard.checks.scorer import LogisticModel, LogisticQualityScorer
from switchyard.checks.training import (
    LabelledAnswer,
    build_scorer,
    fit_answer_model,
)
from switchyard.learning.dataset import DatasetRecord
from switchyard.learning.features import default_spec
from switchyard.learning.heldout import classification_metrics
from switchyard.learning.metrics import escalation_curve

# Task type -> family; anything else is "general", the scorer's default model.
FAMILIES: Mapping[str, str] = {"math": "math", "code_generation": "code"}
DEFAULT_FAMILY = "general"
# Fewer examples than this (or of one label) and the family falls back to "general".
MIN_FAMILY_EXAMPLES = 100


class VerifierTrainingError(ValueError):
    """A dataset that cannot train the scorer (no answer texts, one label only)."""


def family_of(task_type: str) -> str:
    return FAMILIES.get(task_type, DEFAULT_FAMILY)


def labelled_answers(
    records: Sequence[DatasetRecord], models: Collection[str] | None = None
) -> list[LabelledAnswer]:
    """One example per (record, model) whose answer text is recorded; only `models`'
    answers when given (a cascade's verifier mostly judges its cheap stages)."""
    return [
        LabelledAnswer(
            group=record.id,
            prompt=record.prompt,
            task_type=record.task_type,
            output=answer.answer,
            acceptable=answer.acceptable,
        )
        for record in records
        for model, answer in record.answers.items()
        if answer.answer is not None and (models is None or model in models)
    ]


def _families(answers: Sequence[LabelledAnswer]) -> dict[str, list[LabelledAnswer]]:
    """Examples per family; a family too small to fit on its own joins "general"."""
    by_family: dict[str, list[LabelledAnswer]] = {}
    for answer in answers:
        by_family.setdefault(family_of(answer.task_type), []).append(answer)
    for family in [f for f in by_family if f != DEFAULT_FAMILY]:
        labels = [a.acceptable for a in by_family[family]]
        if len(labels) < MIN_FAMILY_EXAMPLES or all(labels) or not any(labels):
            by_family.setdefault(DEFAULT_FAMILY, []).extend(by_family.pop(family))
    return by_family


@dataclass(frozen=True)
class TrainedVerifier:
    scorer: LogisticQualityScorer
    # family -> held-out figures (and escalation APGR where two models answered)
    reports: Mapping[str, Mapping[str, Any]]


def escalation_figures(
    scorer: LogisticQualityScorer, records: Sequence[DatasetRecord], weak: str, strong: str
) -> dict[str, Any] | None:
    """APGR / CPT(50%) of escalating `weak`'s answer to `strong` when the scorer's
    P(acceptable) is below a swept threshold (the verifier's cascade)."""
    pairs = [
        r
        for r in records
        if weak in r.answers and strong in r.answers and r.answers[weak].answer is not None
    ]
    if not pairs:
        return None
    scores = [
        scorer.score(
            prompt=r.prompt,
            task_type=r.task_type,
            output=r.answers[weak].answer or "",
            finish_reason="stop",
        )
        for r in pairs
    ]
    try:
        report = escalation_curve(
            scores,
            [r.answers[weak].quality for r in pairs],
            [r.answers[strong].quality for r in pairs],
        )
    except ValueError:  # the "strong" model is not better on this slice
        return None
    return {
        "weak": weak,
        "strong": strong,
        "n": len(pairs),
        "apgr": round(report.apgr, 4),
        "cpt50": round(report.cpt50, 4),
    }


def _mean_quality(records: Sequence[DatasetRecord]) -> dict[str, float]:
    totals: dict[str, list[float]] = {}
    for record in records:
        for model, answer in record.answers.items():
            totals.setdefault(model, []).append(answer.quality)
    return {m: float(np.mean(q)) for m, q in totals.items()}


def train_verifier(
    train: Sequence[DatasetRecord],
    heldout: Sequence[DatasetRecord],
    *,
    seed: int,
    source: Mapping[str, Any] | None = None,
    answers_of: Collection[str] | None = None,
    with_embedding: bool = True,
) -> TrainedVerifier:
    """One model per family; `with_embedding=False` keeps every family to the
    hand-made features (no WordLlama in the verifier's scoring)."""
    answers = labelled_answers(train, answers_of)
    if not answers:
        whose = f" from {', '.join(sorted(answers_of))}" if answers_of else ""
        raise VerifierTrainingError(
            f"no answer{whose} in the dataset carries its text; the verifier scores "
            "answers, so it needs `answer` fields"
        )
    labels = [a.acceptable for a in answers]
    if all(labels) or not any(labels):
        raise VerifierTrainingError("every answer has the same label; nothing to learn")
    spec = default_spec().embedding  # the router predictors' embedding
    fitted: list[tuple[LogisticModel, dict[str, Any]]] = []
    for family, examples in sorted(_families(answers).items()):
        task_types = sorted({a.task_type for a in examples}) if family != DEFAULT_FAMILY else []
        model, info = fit_answer_model(
            family, task_types, examples, seed=seed, embedding=spec if with_embedding else None
        )
        info = {
            "seed": seed,
            "answers_of": sorted(answers_of) if answers_of else "all models",
            **info,
        }
        fitted.append((model, info))
    names = [m.name for m, _ in fitted]
    default = DEFAULT_FAMILY if DEFAULT_FAMILY in names else names[0]
    routing = build_scorer([m for m, _ in fitted], default_model=default, embedding=spec)
    held_answers = labelled_answers(heldout, answers_of)
    quality = _mean_quality(train)
    models: list[LogisticModel] = []
    reports: dict[str, dict[str, Any]] = {}
    for model, info in fitted:
        # Held-out examples this model would score: the scorer picks by task type.
        held = [a for a in held_answers if routing.model_for(a.task_type).name == model.name]
        metrics: dict[str, Any] = {"n": 0}
        if held:
            p = np.array([model.score_answer(a.features(), a.output, spec) for a in held])
            metrics = classification_metrics(p, np.array([a.acceptable for a in held]))
        report: dict[str, Any] = {**info, "heldout": metrics}
        if len(quality) >= 2:
            weak, strong = (
                min(quality, key=quality.__getitem__),
                max(quality, key=quality.__getitem__),
            )
            members = [r for r in heldout if routing.model_for(r.task_type).name == model.name]
            figures = escalation_figures(routing, members, weak, strong)
            if figures:
                report["escalation"] = figures
        reports[model.name] = report
        training = {**dict(source or {}), **report}
        models.append(dataclasses.replace(model, training=training))
    return TrainedVerifier(build_scorer(models, default_model=default, embedding=spec), reports)
