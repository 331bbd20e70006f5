"""Fitting the router's per-model quality predictors: P(acceptable | prompt, task type).

For every model in the dataset, each candidate estimator is scored by log loss on
validation carved from the train part by a fixed seed (5-fold cross-validation below
3,000 rows, one 20 % slice above), and the best is refitted on the whole train part.
Candidates are one fixed list for every dataset (nothing here is tuned to a shipped
dataset): logistic regression over all features and over the dense block only at a
few L2 strengths, and histogram gradient boosting over the dense block
(embedding, length, task type; trees cannot use 130k hashed columns). Every figure the
artefact reports comes from the held-out records, which nothing here is fitted on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from threadpoolctl import threadpool_limits

from switchyard.learning.dataset import DatasetRecord, dataset_models
from switchyard.learning.features import FeatureSpec, PromptFeaturizer, default_spec
from switchyard.learning.heldout import classification_metrics, records_hash, routing_figures
from switchyard.learning.predictor import BOOSTED, LOGISTIC
from switchyard.learning.predictor_export import DenseScaling, boosted_arrays, logistic_arrays
from switchyard.learning.split import split_point

DEFAULT_SEED = 20240601
VALIDATION_FRACTION = 0.2
CV_BELOW = 3000
CV_FOLDS = 5
LOGISTIC_C = (0.03, 0.1, 0.3, 1.0, 3.0)
# Below this many examples of the rarer label, boosting fits without early stopping.
MIN_MINORITY_FOR_EARLY_STOPPING = 10
BOOSTING_PARAMS: Mapping[str, Any] = {
    "learning_rate": 0.05,
    "max_iter": 300,
    "max_depth": 4,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "early_stopping": True,
    "validation_fraction": 0.15,
    "n_iter_no_change": 30,
}


class TrainingError(ValueError):
    """Data that cannot train a predictor (too few models, no labels)."""


@dataclass(frozen=True)
class TrainingConfig:
    seed: int = DEFAULT_SEED
    validation_fraction: float = VALIDATION_FRACTION
    # k-fold cross-validation for models with fewer train rows than this.
    cv_below: int = CV_BELOW
    cv_folds: int = CV_FOLDS
    logistic_c: tuple[float, ...] = LOGISTIC_C
    boosting: Mapping[str, Any] = field(default_factory=lambda: dict(BOOSTING_PARAMS))
    spec: FeatureSpec = field(default_factory=default_spec)


# -- features ----------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureMatrix:
    hashed: sp.csr_matrix
    dense: np.ndarray

    def rows(self, index: np.ndarray) -> FeatureMatrix:
        return FeatureMatrix(self.hashed[index], self.dense[index])


def featurize(spec: FeatureSpec, records: Sequence[DatasetRecord]) -> FeatureMatrix:
    """The same rows `predictor.py` builds at run time, stacked for fitting."""
    featurizer = PromptFeaturizer(spec)
    columns, values, indptr, dense = [], [], [0], []
    for record in records:
        row = featurizer.features(record.prompt, record.task_type)
        columns.append(row.hashed_columns)
        values.append(row.hashed_values)
        indptr.append(indptr[-1] + len(row.hashed_columns))
        dense.append(row.dense)
    hashed = sp.csr_matrix(
        (np.concatenate(values), np.concatenate(columns), np.asarray(indptr)),
        shape=(len(records), spec.n_hashed),
    )
    hashed.sum_duplicates()
    return FeatureMatrix(hashed, np.vstack(dense))


def dense_scaling(spec: FeatureSpec, dense: np.ndarray) -> DenseScaling:
    """Centre the embedding and scale it to unit mean norm, like the hashed blocks, so
    one L2 strength suits every block; length and task one-hot stay as they are."""
    dim = spec.embedding.dim
    offset = np.zeros(dense.shape[1])
    offset[:dim] = dense[:, :dim].mean(axis=0)
    centred = dense[:, :dim] - offset[:dim]
    mean_norm = float(np.linalg.norm(centred, axis=1).mean()) or 1.0
    scale = np.ones(dense.shape[1])
    scale[:dim] = 1.0 / mean_norm
    return DenseScaling(offset, scale)


# -- candidates --------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    estimator: str
    params: Mapping[str, Any]

    @property
    def label(self) -> str:
        if self.estimator == LOGISTIC:
            dense_only = ", dense only" if self.params.get("dense_only") else ""
            return f"{LOGISTIC}(C={self.params['C']:g}{dense_only})"
        return BOOSTED


@dataclass
class FittedModel:
    candidate: Candidate
    logistic: CompactLogistic | None = None
    boosted: HistGradientBoostingClassifier | None = None

    def probabilities(self, x: FeatureMatrix) -> np.ndarray:
        if self.logistic is not None:
            return self.logistic.probabilities(x)
        assert self.boosted is not None
        return self.boosted.predict_proba(x.dense)[:, 1]


def candidates(config: TrainingConfig) -> list[Candidate]:
    """Logistic regression over every block, and over the dense block only (fewer
    parameters, for small or n-gram-poor data), at each L2 strength; boosted trees."""
    return [
        Candidate(LOGISTIC, {"C": c, "dense_only": dense_only})
        for dense_only in (False, True)
        for c in config.logistic_c
    ] + [Candidate(BOOSTED, dict(config.boosting))]


@dataclass(frozen=True)
class CompactLogistic:
    """Logistic regression fitted on the hashed columns the training rows use (a few
    thousand of 500k): the same optimum, as unused columns get zero weight under L2,
    at a fraction of the solver's cost."""

    bias: float
    hashed_columns: np.ndarray
    hashed_weights: np.ndarray
    dense_weights: np.ndarray
    scaling: DenseScaling

    def logits(self, x: FeatureMatrix) -> np.ndarray:
        weights = np.zeros(x.hashed.shape[1])
        weights[self.hashed_columns] = self.hashed_weights
        return self.bias + x.hashed @ weights + self.scaling.apply(x.dense) @ self.dense_weights

    def probabilities(self, x: FeatureMatrix) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(x)))


def fit_logistic(
    c: float, x: FeatureMatrix, y: np.ndarray, scaling: DenseScaling, *, dense_only: bool = False
) -> CompactLogistic:
    used = np.empty(0, np.int64) if dense_only else np.unique(x.hashed.indices)
    design = sp.hstack([x.hashed[:, used], sp.csr_matrix(scaling.apply(x.dense))], format="csr")
    estimator = LogisticRegression(C=c, max_iter=3000).fit(design, y)
    coef = estimator.coef_.ravel()
    return CompactLogistic(
        bias=float(estimator.intercept_[0]),
        hashed_columns=used.astype(np.int64),
        hashed_weights=coef[: len(used)],
        dense_weights=coef[len(used) :],
        scaling=scaling,
    )


def _constant_logistic(rate: float, scaling: DenseScaling) -> CompactLogistic:
    """A model that always answers `rate`: for labels of one class only."""
    p = min(max(rate, 1e-4), 1 - 1e-4)
    return CompactLogistic(
        bias=math.log(p / (1 - p)),
        hashed_columns=np.empty(0, np.int64),
        hashed_weights=np.empty(0),
        dense_weights=np.zeros(len(scaling.scale)),
        scaling=scaling,
    )


def fit_candidate(
    candidate: Candidate, spec: FeatureSpec, x: FeatureMatrix, y: np.ndarray, *, seed: int
) -> FittedModel:
    scaling = dense_scaling(spec, x.dense)
    single_class = y.all() or not y.any()
    if candidate.estimator == LOGISTIC or single_class:
        if single_class:
            constant = _constant_logistic(float(y.mean()), scaling)
            return FittedModel(Candidate(LOGISTIC, {"C": 0.0, "constant": True}), logistic=constant)
        fitted = fit_logistic(
            candidate.params["C"],
            x,
            y,
            scaling,
            dense_only=bool(candidate.params.get("dense_only")),
        )
        return FittedModel(candidate, logistic=fitted)
    params = dict(candidate.params)
    minority = int(min(y.sum(), len(y) - y.sum()))
    if params.get("early_stopping") and minority < MIN_MINORITY_FOR_EARLY_STOPPING:
        # Early stopping holds out a stratified slice, which needs the rarer label on
        # both sides: a small team dataset (MT Bench's 40 prompts has one bad answer)
        # would make sklearn raise. Fit the fixed number of rounds instead.
        params["early_stopping"] = False
        params["max_iter"] = min(int(params.get("max_iter", 100)), 100)
    boosted = HistGradientBoostingClassifier(**params, random_state=seed)
    boosted.fit(x.dense, y)
    return FittedModel(candidate, boosted=boosted)


# -- the whole fit -----------------------------------------------------------------


@dataclass(frozen=True)
class TrainedPredictor:
    """What `write_artefact` stores: the manifest and the weight arrays."""

    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]


def _labels(records: Sequence[DatasetRecord], model: str) -> tuple[np.ndarray, np.ndarray]:
    rows = np.asarray([i for i, r in enumerate(records) if model in r.answers], np.intp)
    labels = np.asarray([records[i].answers[model].acceptable for i in rows], bool)
    return rows, labels


def validation_folds(keys: Sequence[str], seed: int, config: TrainingConfig) -> np.ndarray:
    """A fold number per row: k-fold cross-validation below `cv_below` rows (small data
    make one slice too noisy to choose by), else one slice of `validation_fraction`
    (fold 0; the rest is -1, never held out)."""
    points = np.fromiter((split_point(seed, k) for k in keys), np.float64, len(keys))
    if len(keys) < config.cv_below:
        return np.minimum((points * config.cv_folds).astype(np.int64), config.cv_folds - 1)
    return np.where(points < config.validation_fraction, 0, -1)


def choose_and_fit(
    model: str,
    records: Sequence[DatasetRecord],
    x: FeatureMatrix,
    config: TrainingConfig,
) -> tuple[FittedModel, dict[str, Any]]:
    """Score every candidate on validation folds of TRAIN, refit the best on all of it."""
    rows, y = _labels(records, model)
    folds = validation_folds([f"{model}\0{records[i].id}" for i in rows], config.seed, config)
    usable = [
        f for f in range(folds.max() + 1) if (folds == f).any() and len(set(y[folds != f])) == 2
    ]
    losses: dict[str, float] = {}
    best: tuple[float, Candidate] | None = None
    held = np.isin(folds, usable)
    for candidate in candidates(config) if usable else []:
        predicted = np.empty(len(rows))
        for fold in usable:
            fitted = fit_candidate(
                candidate,
                config.spec,
                x.rows(rows[folds != fold]),
                y[folds != fold],
                seed=config.seed,
            )
            predicted[folds == fold] = fitted.probabilities(x.rows(rows[folds == fold]))
        loss = float(log_loss(y[held], predicted[held], labels=[False, True]))
        losses[candidate.label] = round(loss, 5)
        if best is None or loss < best[0]:
            best = (loss, candidate)
    chosen = best[1] if best else candidates(config)[0]
    final = fit_candidate(chosen, config.spec, x.rows(rows), y, seed=config.seed)
    report = {
        "estimator": final.candidate.estimator,
        "params": dict(final.candidate.params),
        "n_train": len(rows),
        "train_base_rate": round(float(y.mean()), 4),
        "mean_quality_train": round(
            float(np.mean([records[i].answers[model].quality for i in rows])), 4
        ),
        "validation": {
            "n": int(held.sum()),
            "folds": len(usable),
            "log_loss": losses,
            "chosen": final.candidate.label,
        },
    }
    return final, report


def train_router_predictor(
    train: Sequence[DatasetRecord],
    heldout: Sequence[DatasetRecord],
    *,
    config: TrainingConfig | None = None,
    source: Mapping[str, Any] | None = None,
) -> TrainedPredictor:
    config = config or TrainingConfig()
    models = dataset_models(train)
    if len(models) < 2:
        raise TrainingError(
            f"the training data names {len(models)} model(s) ({', '.join(models) or 'none'}); "
            "a router predictor compares models, so it needs answers from at least two"
        )
    x_train = featurize(config.spec, train)
    x_held = featurize(config.spec, heldout) if heldout else None
    fitted: dict[str, FittedModel] = {}
    reports: dict[str, dict[str, Any]] = {}
    predicted: dict[str, np.ndarray] = {}
    for model in models:
        # One thread: on thousands of rows, boosting's OpenMP threads cost more than they
        # save, ten times more on a machine whose cores other processes share.
        with threadpool_limits(limits=1):
            fitted[model], reports[model] = choose_and_fit(model, train, x_train, config)
        if x_held is not None:
            rows, y = _labels(heldout, model)
            p = fitted[model].probabilities(x_held)
            predicted[model] = p
            reports[model]["heldout"] = (
                classification_metrics(p[rows], y) if len(rows) else {"n": 0}
            )
    logistic = [m for m in models if fitted[m].logistic is not None]
    boosted = [m for m in models if fitted[m].boosted is not None]
    arrays: dict[str, np.ndarray] = {}
    manifest: dict[str, Any] = {
        "kind": "router_quality_predictor",
        "feature_spec": config.spec.to_json(),
        "estimators": {LOGISTIC: logistic, BOOSTED: boosted},
        "models": reports,
        "training": {
            **dict(source or {}),
            "train_records": len(train),
            "train_records_sha256": records_hash(train),
            "heldout_records": len(heldout),
            "heldout_records_sha256": records_hash(heldout) if heldout else None,
            "seed": config.seed,
            "validation_fraction": config.validation_fraction,
            "cv_folds": config.cv_folds,
            "cv_below_rows": config.cv_below,
            "candidates": [c.label for c in candidates(config)],
            "boosting": dict(config.boosting),
        },
    }
    if logistic:
        arrays.update(logistic_arrays([fitted[m].logistic for m in logistic]))
    if boosted:
        gb_arrays, depth = boosted_arrays([fitted[m].boosted for m in boosted])
        arrays.update(gb_arrays)
        manifest["gb_depth"] = depth
    if predicted:
        by_quality = sorted(models, key=lambda m: reports[m]["mean_quality_train"])
        manifest["heldout_routing"] = routing_figures(
            heldout, predicted, weak=by_quality[0], strong=by_quality[-1]
        )
    return TrainedPredictor(manifest, arrays)
