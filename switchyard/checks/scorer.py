"""The probabilistic quality scorer: logistic regression over `features.extract`.

An artefact is a JSON file of weights, one model per task family (e.g. "math"
trained on GSM8K, "general" on RouterArena) plus a default. Inference is a dot
product in pure Python: no numpy on the hot path, well under a millisecond.

A scorer fitted by `switchyard train verifier` may also read the answer's WordLlama
embedding (the router predictors' embedding, `switchyard.learning.features`): its
artefact is format 2, names the embedding, and gives each model that uses it one
weight per dimension. A format-1 reader refuses it rather than score without them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from switchyard.checks.features import FEATURE_NAMES, extract
from switchyard.runtime.files import write_atomically

if TYPE_CHECKING:
    from switchyard.learning.features import EmbeddingSpec

ARTIFACT_FORMAT = "switchyard.quality_scorer/1"
# Format 2: format 1 plus an answer embedding (`answer_embedding`, `embedding_weights`).
EMBEDDING_FORMAT = "switchyard.quality_scorer/2"
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
    # One weight per answer-embedding dimension; empty: the model does not read it.
    embedding_weights: tuple[float, ...] = ()

    def probability(self, features: Sequence[float], embedding: Sequence[float] = ()) -> float:
        z = self.bias
        for w, x in zip(self.weights, features, strict=True):
            z += w * x
        if self.embedding_weights:
            for w, x in zip(self.embedding_weights, embedding, strict=True):
                z += w * x
        return sigmoid(z)

    def score_answer(
        self, features: Sequence[float], output: str, embedding: EmbeddingSpec | None
    ) -> float:
        """P(acceptable) from an answer's features, embedding `output` only when this
        model reads the embedding (WordLlama costs ~0.1 ms an answer)."""
        if not self.embedding_weights:
            return self.probability(features)
        return self.probability(features, answer_embedding(embedding, output))


class LogisticQualityScorer:
    """P(acceptable) for an answer; picks the model trained for the request's task type."""

    def __init__(
        self,
        *,
        version: str,
        models: Mapping[str, LogisticModel],
        default_model: str,
        embedding: EmbeddingSpec | None = None,
    ) -> None:
        if default_model not in models:
            raise ArtifactError(f"default model {default_model!r} is not in the artefact")
        for model in models.values():
            if model.embedding_weights and (
                embedding is None or len(model.embedding_weights) != embedding.dim
            ):
                raise ArtifactError(
                    f"model {model.name!r} has {len(model.embedding_weights)} embedding "
                    f"weights for an embedding of {embedding.dim if embedding else 0} dimensions"
                )
        self.version = version
        self.models = dict(models)
        self.default_model = default_model
        self.embedding = embedding
        self._by_task = {t: m for m in models.values() for t in m.task_types}

    def model_for(self, task_type: str) -> LogisticModel:
        return self._by_task.get(task_type) or self.models[self.default_model]

    def score(self, *, prompt: str, task_type: str, output: str, finish_reason: str) -> float:
        features = extract(
            prompt=prompt, task_type=task_type, output=output, finish_reason=finish_reason
        )
        return self.model_for(task_type).score_answer(features, output, self.embedding)

    def warm(self) -> None:
        """Load what scoring needs before the first request does: WordLlama's table
        (~0.3 s) when a model reads the answer embedding; nothing otherwise."""
        if any(m.embedding_weights for m in self.models.values()):
            answer_embedding(self.embedding, "warm up")

    def to_json(self) -> dict[str, Any]:
        return artifact_document(
            models=self.models.values(),
            default_model=self.default_model,
            version=self.version,
            embedding=self.embedding,
        )


def answer_embedding(spec: EmbeddingSpec | None, output: str) -> list[float]:
    """The answer's embedding as plain floats (the dot product above is pure Python)."""
    from switchyard.learning.features import embedder  # WordLlama: only scorers that use it

    assert spec is not None  # the constructor refuses embedding weights without a spec
    return embedder(spec)(output).tolist()


def content_version(models: Sequence[LogisticModel] | Any) -> str:
    """A version that changes whenever the weights do: quality-v1-<sha256 prefix>
    (a model without embedding weights hashes as it did before they existed)."""
    digest = hashlib.sha256()
    for model in sorted(models, key=lambda m: m.name):
        fields: list[Any] = [model.name, model.bias, list(model.weights)]
        if model.embedding_weights:
            fields.append(list(model.embedding_weights))
        digest.update(json.dumps(fields).encode())
    return f"quality-v1-{digest.hexdigest()[:10]}"


def artifact_document(
    *,
    models: Any,
    default_model: str,
    version: str | None = None,
    embedding: EmbeddingSpec | None = None,
) -> dict[str, Any]:
    models = list(models)
    document: dict[str, Any] = {
        "format": ARTIFACT_FORMAT if embedding is None else EMBEDDING_FORMAT,
        "version": version or content_version(models),
        "feature_names": list(FEATURE_NAMES),
        "default_model": default_model,
        "models": {},
    }
    if embedding is not None:
        document["answer_embedding"] = asdict(embedding)
    for m in models:
        entry: dict[str, Any] = {
            "task_types": list(m.task_types),
            "bias": m.bias,
            "weights": dict(zip(FEATURE_NAMES, m.weights, strict=True)),
        }
        if m.embedding_weights:
            entry["embedding_weights"] = list(m.embedding_weights)
        entry["training"] = dict(m.training)
        document["models"][m.name] = entry
    return document


def _embedding_spec(raw: Any) -> EmbeddingSpec:
    from switchyard.learning.features import EmbeddingSpec, TextWindow

    try:
        return EmbeddingSpec(
            config=str(raw["config"]),
            dim=int(raw["dim"]),
            weights_dim=int(raw["weights_dim"]),
            window=TextWindow(int(raw["window"]["head_chars"]), int(raw["window"]["tail_chars"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"malformed answer_embedding: {exc!r}") from exc


def parse_artifact(document: Mapping[str, Any]) -> LogisticQualityScorer:
    form = document.get("format")
    if form not in (ARTIFACT_FORMAT, EMBEDDING_FORMAT):
        raise ArtifactError(
            f"not a {ARTIFACT_FORMAT} or {EMBEDDING_FORMAT} artefact (format={form!r})"
        )
    if form == EMBEDDING_FORMAT and "answer_embedding" not in document:
        raise ArtifactError(f"{form} artefact without its answer_embedding")
    if form == ARTIFACT_FORMAT and "answer_embedding" in document:
        raise ArtifactError(f"{form} artefact with an answer_embedding: only format 2 has one")
    embedding = _embedding_spec(document["answer_embedding"]) if form == EMBEDDING_FORMAT else None
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
                embedding_weights=tuple(float(w) for w in raw.get("embedding_weights", ())),
            )
        return LogisticQualityScorer(
            version=str(document["version"]),
            models=models,
            default_model=str(document["default_model"]),
            embedding=embedding,
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
