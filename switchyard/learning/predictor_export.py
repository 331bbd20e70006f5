"""Fitted scikit-learn estimators -> the plain arrays `predictor.py` runs.

Logistic regression becomes weights with the dense block's centring and scaling folded
in; histogram gradient boosting becomes flat node arrays (feature, threshold, children,
leaf value) with every leaf pointing at itself. Neither needs pickle, and tests check
both give sklearn's own probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier


@dataclass(frozen=True)
class DenseScaling:
    """x' = (x - offset) * scale on the dense block, as the logistic models were fitted."""

    offset: np.ndarray
    scale: np.ndarray

    def apply(self, dense: np.ndarray) -> np.ndarray:
        return (dense - self.offset) * self.scale


class LogisticWeights(Protocol):
    bias: float
    hashed_columns: np.ndarray
    hashed_weights: np.ndarray
    dense_weights: np.ndarray
    scaling: DenseScaling


def logistic_arrays(fits: Sequence[LogisticWeights]) -> dict[str, np.ndarray]:
    """Stack the models column by column, with the dense scaling folded into the
    weights; hashed weights are kept for the columns any model uses."""
    columns = np.unique(np.concatenate([f.hashed_columns for f in fits]))
    hashed = np.zeros((len(columns), len(fits)))
    biases, dense = [], []
    for k, fit in enumerate(fits):
        hashed[np.searchsorted(columns, fit.hashed_columns), k] = fit.hashed_weights
        w_dense = fit.dense_weights * fit.scaling.scale
        biases.append(fit.bias - float(w_dense @ fit.scaling.offset))
        dense.append(w_dense)
    return {
        "lr_bias": np.asarray(biases, np.float64),
        "lr_dense": np.stack(dense, axis=1).astype(np.float64),
        "lr_hashed_columns": columns.astype(np.int64),
        "lr_hashed": hashed,
    }


def boosted_arrays(
    estimators: Sequence[HistGradientBoostingClassifier],
) -> tuple[dict[str, np.ndarray], int]:
    """(arrays, depth): all trees of all models in one node table."""
    feature, threshold, left, right, value = [], [], [], [], []
    roots, tree_model, baseline = [], [], []
    depth = 0
    offset = 0
    for index, estimator in enumerate(estimators):
        if estimator.n_trees_per_iteration_ != 1:
            raise ValueError("only binary classifiers export")
        baseline.append(float(np.ravel(estimator._baseline_prediction)[0]))
        for (tree,) in estimator._predictors:
            nodes = tree.nodes
            if nodes["is_categorical"].any():
                raise ValueError("categorical splits do not export")
            n = len(nodes)
            own = np.arange(n) + offset
            is_leaf = nodes["is_leaf"].astype(bool)
            feature.append(np.where(is_leaf, 0, nodes["feature_idx"]).astype(np.int32))
            threshold.append(np.where(is_leaf, 0.0, nodes["num_threshold"]).astype(np.float64))
            left.append(np.where(is_leaf, own, nodes["left"].astype(np.int64) + offset))
            right.append(np.where(is_leaf, own, nodes["right"].astype(np.int64) + offset))
            value.append(np.where(is_leaf, nodes["value"], 0.0).astype(np.float64))
            roots.append(offset)
            tree_model.append(index)
            depth = max(depth, int(nodes["depth"].max()))
            offset += n
    if not feature:  # no trees at all: every model is its baseline
        feature = threshold = value = [np.empty(0)]
        left = right = [np.empty(0, np.int64)]
    arrays = {
        "gb_feature": np.concatenate(feature).astype(np.int32),
        "gb_threshold": np.concatenate(threshold),
        "gb_left": np.concatenate(left).astype(np.int32),
        "gb_right": np.concatenate(right).astype(np.int32),
        "gb_value": np.concatenate(value),
        "gb_roots": np.asarray(roots, np.int32),
        "gb_tree_model": np.asarray(tree_model, np.int32),
        "gb_baseline": np.asarray(baseline, np.float64),
    }
    return arrays, depth
