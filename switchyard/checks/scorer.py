"""The probabilistic quality scorer: logistic regression over `features.extract`.

An artefact is a JSON file of weights, one model per task family (e.g. "math"
trained on GSM8K, "general" on RouterArena) plus a default. Inference is a dot
product in pure Python: no numpy on the hot path, well under a millisecond.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from switchyard.checks.features import FEATURE_NAMES, extract
from switchyard.runtime.files import write_atomically

ARTIFACT_FORMAT = "switchyard.quality_scorer/1"
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
DEFAULT_ARTIFACT = ARTIFACTS_DIR / "quality_scorer_v1.json"


class ArtifactError(ValueError):
    """The artefact is missing, unreadable, or built for other features."""


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class LogisticModel:
    name: str
    task_types: tuple[str, ...]
    bias: float
    weights: tuple[float, ...]
    training: Mapping[str, Any]

    def probability(self, features: Sequence[float]) -> float:
        z = self.bias
        for w, x in zip(self.weights, features, strict=True):
            z += w * x
        return sigmoid(z)


class LogisticQualityScorer:
    """P(acceptable) for an answer; picks the model trained for the request's task type."""

    def __init__(
        self, *, version: str, models: Mapping[str, LogisticModel], default_model: str
    ) -> None:
        if default_model not in models:
            raise ArtifactError(f"default model {default_model!r} is not in the artefact")
        self.version = version
        self.models = dict(models)
        self.default_model = default_model
        self._by_task = {t: m for m in models.values() for t in m.task_types}

    def model_for(self, task_type: str) -> LogisticModel:
        return self._by_task.get(task_type) or self.models[self.default_model]

    def score(self, *, prompt: str, task_type: str, output: str, finish_reason: str) -> float:
        features = extract(
            prompt=prompt, task_type=task_type, output=output, finish_reason=finish_reason
        )
        return self.model_for(task_type).probability(features)

    def to_json(self) -> dict[str, Any]:
        return artifact_document(
            models=self.models.values(), default_model=self.default_model, version=self.version
        )


def content_version(models: Sequence[LogisticModel] | Any) -> str:
    """A version that changes whenever the weights do: quality-v1-<sha256 prefix>."""
    digest = hashlib.sha256()
    for model in sorted(models, key=lambda m: m.name):
        digest.update(json.dumps([model.name, model.bias, list(model.weights)]).encode())
    return f"quality-v1-{digest.hexdigest()[:10]}"


def artifact_document(
    *, models: Any, default_model: str, version: str | None = None
) -> dict[str, Any]:
    models = list(models)
    return {
        "format": ARTIFACT_FORMAT,
        "version": version or content_version(models),
        "feature_names": list(FEATURE_NAMES),
        "default_model": default_model,
        "models": {
            m.name: {
                "task_types": list(m.task_types),
                "bias": m.bias,
                "weights": dict(zip(FEATURE_NAMES, m.weights, strict=True)),
                "training": dict(m.training),
            }
            for m in models
        },
    }


def parse_artifact(document: Mapping[str, Any]) -> LogisticQualityScorer:
    if document.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(f"not a {ARTIFACT_FORMAT} artefact (format={document.get('format')!r})")
    names = list(document.get("feature_names", []))
    if names != list(FEATURE_NAMES):
        missing = sorted(set(FEATURE_NAMES) - set(names))
        extra = sorted(set(names) - set(FEATURE_NAMES))
        raise ArtifactError(
            f"artefact was trained on other features (missing {missing}, extra {extra}); "
            "retrain with `switchyard verifier train`"
        )
    models: dict[str, LogisticModel] = {}
    try:
        for name, raw in document["models"].items():
            weights = tuple(float(raw["weights"][f]) for f in FEATURE_NAMES)
            models[name] = LogisticModel(
                name=name,
                task_types=tuple(raw.get("task_types", ())),
                bias=float(raw["bias"]),
                weights=weights,
                training=raw.get("training", {}),
            )
        return LogisticQualityScorer(
            version=str(document["version"]),
            models=models,
            default_model=str(document["default_model"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"malformed artefact: {exc!r}") from exc


def load_scorer(path: str | Path = DEFAULT_ARTIFACT) -> LogisticQualityScorer:
    """Load an artefact; ArtifactError says what is wrong with it."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read quality scorer artefact {path}: {exc}") from exc
    return parse_artifact(document)


def save_scorer(scorer: LogisticQualityScorer, path: str | Path) -> None:
    # Readers never see a half-written artefact.
    write_atomically(path, json.dumps(scorer.to_json(), indent=2, sort_keys=False) + "\n")


@lru_cache(maxsize=1)
def default_scorer() -> LogisticQualityScorer:
    """The packaged artefact, loaded once per process (for embedding in the router)."""
    return load_scorer(DEFAULT_ARTIFACT)
