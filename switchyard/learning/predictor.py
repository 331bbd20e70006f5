"""Runtime inference for the learned quality predictors: P(acceptable answer | prompt,
task type) per model, from an artefact written by `switchyard train router`.

This is the module the router's selectors and the offline evaluator import: no training
code and no scikit-learn; the hot path is numpy, MurmurHash3 and WordLlama's table and
tokenizer. One request costs one feature row (shared by every model), one stacked
product for all logistic-regression models and one level-by-level walk of all boosted
trees at once. docs/predictors.md describes the artefact and its trust model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from switchyard.learning.artefact import ArtefactError, read_artefact
from switchyard.learning.features import FeatureSpec, FeatureSpecError, PromptFeaturizer

__all__ = ["ArtefactError", "QualityPredictor", "load_predictor"]

LOGISTIC = "logistic_regression"
BOOSTED = "hist_gradient_boosting"
# Prompts whose predictions a predictor keeps (each key is at most ~400 characters).
RECENT_PROMPTS = 4096


class _LogisticStack:
    """All logistic-regression models as one (features x models) weight matrix.

    Hashed weights are stored for the columns seen in training only; `_row` maps a
    hashed column to its weight row, and row 0 is all zeros for columns never seen.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], n_hashed: int) -> None:
        self.bias = arrays["lr_bias"].astype(np.float64)
        self.dense = arrays["lr_dense"].astype(np.float64)
        columns = arrays["lr_hashed_columns"].astype(np.int64)
        weights = arrays["lr_hashed"].astype(np.float64)
        k = len(self.bias)
        if (
            self.dense.shape[1] != k
            or weights.shape != (len(columns), k)
            or (len(columns) and (columns.min() < 0 or columns.max() >= n_hashed))
        ):
            raise ArtefactError("logistic-regression arrays disagree in shape")
        # intp and take(): numpy would convert int32 indices on every call, and take is
        # the cheaper gather for one index array.
        self.rows = np.zeros(n_hashed, np.intp)
        self.rows[columns] = np.arange(1, len(columns) + 1, dtype=np.intp)
        self.hashed = np.vstack([np.zeros((1, k)), weights])

    def logits(self, hashed_columns: np.ndarray, hashed_values: np.ndarray, dense: np.ndarray):
        z = self.bias + dense @ self.dense
        if len(hashed_columns):
            z += hashed_values @ self.hashed.take(self.rows.take(hashed_columns), axis=0)
        return z


class _BoostedStack:
    """Every tree of every boosted model as flat node arrays, walked together: leaves
    point at themselves, so `depth` steps bring every tree to its leaf."""

    def __init__(self, arrays: Mapping[str, np.ndarray], depth: int, n_dense: int) -> None:
        self.feature = arrays["gb_feature"].astype(np.intp)
        self.threshold = arrays["gb_threshold"].astype(np.float64)
        self.left = arrays["gb_left"].astype(np.intp)
        self.right = arrays["gb_right"].astype(np.intp)
        self.value = arrays["gb_value"].astype(np.float64)
        self.roots = arrays["gb_roots"].astype(np.intp)
        self.tree_model = arrays["gb_tree_model"].astype(np.intp)
        self.baseline = arrays["gb_baseline"].astype(np.float64)
        n = len(self.feature)
        if (
            not all(len(a) == n for a in (self.threshold, self.left, self.right, self.value))
            or len(self.tree_model) != len(self.roots)
            or (n and (self.feature.max() >= n_dense or self.feature.min() < 0))
            or (n and max(self.left.max(), self.right.max(), self.roots.max()) >= n)
            or (len(self.tree_model) and self.tree_model.max() >= len(self.baseline))
        ):
            raise ArtefactError("gradient-boosting arrays disagree in shape")
        self.depth = depth

    def logits(self, dense: np.ndarray) -> np.ndarray:
        node = self.roots
        for _ in range(self.depth):
            go_left = dense[self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        return self.baseline + np.bincount(
            self.tree_model, weights=self.value[node], minlength=len(self.baseline)
        )


@dataclass(frozen=True)
class QualityPredictor:
    """A loaded artefact. `predict` is deterministic for a given artefact and safe to
    call from any thread (its only writes are single dict operations on caches that
    never change a result)."""

    content_hash: str
    models: frozenset[str]
    manifest: Mapping[str, Any] = field(repr=False, compare=False)
    _featurizer: PromptFeaturizer = field(repr=False, compare=False)
    _logistic: _LogisticStack | None = field(repr=False, compare=False)
    _boosted: _BoostedStack | None = field(repr=False, compare=False)
    # model -> (stack, column): 0 for the logistic stack, 1 for the boosted one.
    _slots: Mapping[str, tuple[int, int]] = field(repr=False, compare=False)
    # The last prompts' predictions for every model, by what their features depend on
    # (PromptFeaturizer.key): Plan() then Route() of one request, retries and repeated
    # prompts pay one featurisation. Bounded; emptied when full.
    _recent: dict[tuple[str, str, int, str], dict[str, float]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def predict(self, prompt: str, task_type: str, models: Sequence[str]) -> dict[str, float]:
        """P(acceptable) per requested model the artefact covers; models it lacks are omitted."""
        wanted = [m for m in models if m in self._slots]
        if not wanted:
            return {}
        key = self._featurizer.key(prompt, task_type)
        every = self._recent.get(key)
        if every is None:
            every = self._predict_all(prompt, task_type)
            if len(self._recent) >= RECENT_PROMPTS:
                self._recent.clear()
            self._recent[key] = every
        return {model: every[model] for model in wanted}

    def _predict_all(self, prompt: str, task_type: str) -> dict[str, float]:
        row = self._featurizer.features(prompt, task_type)
        logits: list[np.ndarray | None] = [None, None]
        if self._logistic is not None:
            logits[0] = self._logistic.logits(row.hashed_columns, row.hashed_values, row.dense)
        if self._boosted is not None:
            logits[1] = self._boosted.logits(row.dense)
        return {
            model: _sigmoid(float(logits[stack][column]))  # type: ignore[index]
            for model, (stack, column) in self._slots.items()
        }

    def metrics(self, model: str) -> Mapping[str, Any]:
        """What training reported for `model`: estimator, validation and held-out figures."""
        return self.manifest["models"][model]


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def load_predictor(path: Path | str, *, expected_hash: str | None = None) -> QualityPredictor:
    """Load and check an artefact; ArtefactError says what is wrong with it."""
    manifest, arrays = read_artefact(path, expected_hash=expected_hash)
    try:
        spec = FeatureSpec.from_json(manifest["feature_spec"])
        estimators = manifest["estimators"]
        logistic_names = [str(m) for m in estimators.get(LOGISTIC, [])]
        boosted_names = [str(m) for m in estimators.get(BOOSTED, [])]
        logistic = _LogisticStack(arrays, spec.n_hashed) if logistic_names else None
        boosted = (
            _BoostedStack(arrays, int(manifest["gb_depth"]), spec.n_dense)
            if boosted_names
            else None
        )
        featurizer = PromptFeaturizer(spec)
    except FeatureSpecError as exc:
        raise ArtefactError(f"{path}: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ArtefactError(f"{path}: malformed artefact: {exc!r}") from exc
    if logistic is not None and len(logistic.bias) != len(logistic_names):
        raise ArtefactError(f"{path}: {len(logistic_names)} logistic models, weights for other")
    if boosted is not None and len(boosted.baseline) != len(boosted_names):
        raise ArtefactError(f"{path}: {len(boosted_names)} boosted models, trees for other")
    if logistic is not None and logistic.dense.shape[0] != spec.n_dense:
        raise ArtefactError(f"{path}: dense weights do not match the feature spec")
    slots = {m: (0, i) for i, m in enumerate(logistic_names)}
    slots.update({m: (1, i) for i, m in enumerate(boosted_names)})
    if len(slots) != len(logistic_names) + len(boosted_names):
        raise ArtefactError(f"{path}: a model is listed under two estimators")
    return QualityPredictor(
        content_hash=str(manifest["content_hash"]),
        models=frozenset(slots),
        manifest=manifest,
        _featurizer=featurizer,
        _logistic=logistic,
        _boosted=boosted,
        _slots=slots,
    )
