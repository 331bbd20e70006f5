"""Policy YAML for selectors (`score`, `auto`) and the learned predictor they use."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from switchyard.policy.model import (
    SELECTOR_KINDS,
    PredictorRef,
    ScoreWeights,
    Selector,
)
from switchyard.policy.reader import FieldReader, join

SELECTOR_FIELDS = (
    "selector",
    "weights",
    "min_quality",
    "max_depth",
    "max_fallbacks",
    "latency_percentile",
    "strong_share",
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def read_selector(r: FieldReader, m: Mapping[str, Any], path: str, n_models: int) -> Selector:
    kind = m.get("selector", "static")
    if kind not in SELECTOR_KINDS:
        r.fail(
            join(path, "selector"),
            f"unknown selector {kind!r}; expected one of {list(SELECTOR_KINDS)}",
        )
        kind = "static"
    if kind == "static":
        for key in SELECTOR_FIELDS[1:]:
            if key in m:
                r.fail(join(path, key), "only for the score and auto selectors")
        return Selector()
    if n_models < 2:
        r.fail(
            join(path, "models"), f"the {kind} selector needs at least two models to choose from"
        )
    base = Selector()
    weights = _weights(r, m.get("weights"), join(path, "weights"))
    min_quality = m.get("min_quality")
    if min_quality is not None:
        min_quality = r.number(m, "min_quality", path, 0.0, low=0.0, high=1.0)
    elif kind == "auto":
        r.fail(join(path, "min_quality"), "is required for auto: the expected-quality floor, 0..1")
    if kind == "score" and "max_depth" in m:
        r.fail(join(path, "max_depth"), "only for the auto selector (score uses max_fallbacks)")
    if kind == "auto" and ("max_fallbacks" in m or "weights" in m):
        key = "max_fallbacks" if "max_fallbacks" in m else "weights"
        r.fail(join(path, key), "only for the score selector")
    depth = r.integer(m, "max_depth", path, min(base.max_depth, max(n_models, 1)), low=1, high=8)
    if kind == "auto" and n_models >= 1 and depth > n_models:
        r.fail(join(path, "max_depth"), f"must not exceed the {n_models} allowed models")
    fallbacks = r.integer(m, "max_fallbacks", path, base.max_fallbacks, low=0, high=7)
    if kind == "score" and n_models >= 1 and fallbacks > n_models - 1:
        r.fail(join(path, "max_fallbacks"), f"must be below the {n_models} allowed models")
    strong_share = None
    if m.get("strong_share") is not None:
        if kind != "score":
            r.fail(join(path, "strong_share"), "only for the score selector")
        elif min_quality is not None:
            r.fail(join(path, "strong_share"), "choose min_quality or strong_share, not both")
        else:
            strong_share = r.number(m, "strong_share", path, 0.0, low=0.0, high=1.0)
    percentile = m.get("latency_percentile", base.latency_percentile)
    if percentile not in ("p50", "p95"):
        r.fail(join(path, "latency_percentile"), "must be p50 or p95")
        percentile = base.latency_percentile
    return Selector(
        kind=kind,
        weights=weights,
        min_quality=min_quality,
        max_depth=depth,
        max_fallbacks=fallbacks,
        latency_percentile=percentile,
        strong_share=strong_share,
    )


def _weights(r: FieldReader, node: Any, path: str) -> ScoreWeights:
    m = r.mapping(node, path, ("quality", "cost", "latency"))
    base = ScoreWeights()
    weights = ScoreWeights(
        quality=r.number(m, "quality", path, base.quality, low=0.0, high=1000.0),
        cost=r.number(m, "cost", path, base.cost, low=0.0, high=1000.0),
        latency=r.number(m, "latency", path, base.latency, low=0.0, high=1000.0),
    )
    if m and weights.quality == weights.cost == weights.latency == 0.0:
        r.fail(path, "the weights must not all be zero")
    return weights


def read_predictor(r: FieldReader, node: Any, path: str) -> PredictorRef | None:
    if node is None:
        return None
    m = r.mapping(node, path, ("artefact", "sha256", "models"))
    artefact = r.string(m, "artefact", path, required=True)
    digest = m.get("sha256", "")
    if digest and (not isinstance(digest, str) or not _SHA256.match(digest)):
        r.fail(join(path, "sha256"), "must be 64 lower-case hex digits")
        digest = ""
    models = m.get("models") or {}
    if not isinstance(models, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in models.items()
    ):
        r.fail(join(path, "models"), "must map fleet model ids to artefact model names")
        models = {}
    return PredictorRef(artefact=artefact, sha256=digest, models=dict(models))
