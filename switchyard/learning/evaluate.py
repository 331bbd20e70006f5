"""Offline evaluation: a policy and the references on a labelled dataset (docs/evaluation.md).

The policy runs through the router's own planning, execution and verification code
(`inprocess_router`) against the dataset's recorded answers (`replay_provider`), so a
figure here is what the router would have done on that traffic. The references need
no routing and are computed from the labels:

- each single model: every request to that model;
- oracle: per request, the cheapest model with the best label (for 0/1 labels, the
  cheapest correct model; when none is correct, the cheapest);
- random: the best random mixture of single models at the policy's cost (the upper
  hull of the single-model points; for two models RouteLLM's random router).

Every strategy becomes a `StrategyResult` with its operating points; `finalize` fills
the curve metrics (APGR and CPT for two-model data, AIQ always) over one shared cost
range. A strategy is anything that yields a `StrategyResult`, so learned selectors
become rows without changes here.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from switchyard.checks.engine import PACKAGED, ScorerChoice
from switchyard.learning import metrics
from switchyard.learning.dataset import DatasetRecord, ModelAnswer, cost_micros_for
from switchyard.learning.inprocess_router import (
    InProcessRouter,
    ModelProfile,
    RoutedRequest,
    VirtualClock,
    policy_models,
    route_request,
)
from switchyard.learning.replay_provider import ReplayFleet, replaying
from switchyard.policy import Policy


class EvaluationError(ValueError):
    """Inputs that cannot be evaluated together, with what to change."""


@dataclass(frozen=True)
class EvalSetup:
    """The records, the fleet, and which fleet model stands for which dataset model."""

    records: tuple[DatasetRecord, ...]
    profiles: Mapping[str, ModelProfile]  # fleet model id -> profile
    model_map: Mapping[str, str]  # evaluated fleet model id -> dataset model
    skipped: int = 0  # records lacking an answer from an evaluated model
    max_output_tokens: int = 0  # 0: the router's default
    # Where a policy's relative `predictor.artefact` path resolves, as in the router.
    artefacts_dir: str = "artefacts"
    # The embedded verification's quality scorer (a router's `--scorer-path`).
    scorer: ScorerChoice = PACKAGED

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.model_map)

    def answer(self, record: DatasetRecord, model: str) -> ModelAnswer:
        return record.answers[self.model_map[model]]

    def quality(self, record: DatasetRecord, model: str) -> float:
        return self.answer(record, model).quality

    def cost(self, record: DatasetRecord, model: str) -> int:
        """The recorded cost, else the recorded tokens at the fleet profile's prices."""
        profile = self.profiles[model]
        return cost_micros_for(
            self.answer(record, model),
            input_micros_per_mtok=profile.input_micros_per_mtok,
            output_micros_per_mtok=profile.output_micros_per_mtok,
        )


def parse_model_map(text: str) -> dict[str, str]:
    """`small=mixtral,large=gpt-4`: fleet model small answers with dataset model mixtral."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        fleet_model, sep, dataset_model = item.partition("=")
        if not sep or not fleet_model.strip() or not dataset_model.strip():
            raise EvaluationError(f"--map item {item!r}: expected FLEET_MODEL=DATASET_MODEL")
        if fleet_model.strip() in mapping:
            raise EvaluationError(f"--map: fleet model {fleet_model.strip()!r} mapped twice")
        mapping[fleet_model.strip()] = dataset_model.strip()
    return mapping


def build_setup(
    records: Sequence[DatasetRecord],
    profiles: Iterable[ModelProfile],
    model_map: Mapping[str, str],
    *,
    max_output_tokens: int = 0,
    artefacts_dir: str = "artefacts",
) -> EvalSetup:
    """Check the mapping against the fleet and the data; keep the fully answered records.

    Without an explicit mapping, a fleet model whose id is a dataset model's name stands
    for it.
    """
    if not records:
        raise EvaluationError("the dataset holds no records")
    by_id = {p.model_id: p for p in profiles}
    dataset_models: dict[str, None] = {}
    for record in records:
        for model in record.answers:
            dataset_models.setdefault(model)
    mapping = dict(model_map) or {m: m for m in dataset_models if m in by_id}
    if not mapping:
        raise EvaluationError(
            "no fleet model stands for a dataset model; map them with --map "
            f"FLEET=DATASET (fleet: {', '.join(sorted(by_id))}; "
            f"dataset: {', '.join(dataset_models)})"
        )
    for fleet_model, dataset_model in mapping.items():
        if fleet_model not in by_id:
            raise EvaluationError(
                f"--map: {fleet_model!r} is not in the fleet ({', '.join(sorted(by_id))})"
            )
        if dataset_model not in dataset_models:
            raise EvaluationError(
                f"--map: {dataset_model!r} answers no record "
                f"(dataset models: {', '.join(dataset_models)})"
            )
    if len(set(mapping.values())) != len(mapping):
        raise EvaluationError("--map: two fleet models stand for the same dataset model")
    wanted = set(mapping.values())
    kept = tuple(r for r in records if wanted <= set(r.answers))
    if not kept:
        raise EvaluationError(
            f"no record has answers from every mapped model ({', '.join(sorted(wanted))})"
        )
    return EvalSetup(
        records=kept,
        profiles=by_id,
        model_map=mapping,
        skipped=len(records) - len(kept),
        max_output_tokens=max_output_tokens,
        artefacts_dir=artefacts_dir,
    )


# -- per-request outcomes and their summary --------------------------------------------


@dataclass(frozen=True)
class RequestOutcome:
    quality: float  # label of the answer served; 0 when none was
    cost_micros: int
    calls: tuple[str, ...]  # fleet models called, in order (retries repeat)
    served_model: str = ""
    escalated: bool = False
    degraded: bool = False
    error: str = ""
    latency_ms: float = 0.0


@dataclass(frozen=True)
class OperatingPoint:
    quality: float
    cost_micros: float  # mean per request
    strong_fraction: float | None = None  # two-model data: share of requests calling strong
    setting: str = ""  # e.g. "min_score=0.412" on a sweep


@dataclass(frozen=True)
class StrategyResult:
    """One row of the report. `curve` holds the points the curve metrics use: the
    row's own point, or every point of a sweep."""

    name: str
    kind: str  # "model", "oracle", "random", "policy", "sweep", "cascade"
    point: OperatingPoint | None
    curve: tuple[OperatingPoint, ...]
    requests: int = 0
    call_share: Mapping[str, float] = field(default_factory=dict)
    escalation_rate: float | None = None
    errors: int = 0
    degraded: int = 0
    apgr: float | None = None
    cpt50: float | None = None
    cpt80: float | None = None
    aiq: float | None = None

    def with_strong_fraction(self, fraction: float) -> StrategyResult:
        """A single-point row once the two-model roles are known."""
        assert self.point is not None
        point = dataclasses.replace(self.point, strong_fraction=fraction)
        return dataclasses.replace(self, point=point, curve=(point,))


def summarize(
    name: str, kind: str, outcomes: Sequence[RequestOutcome], *, strong: str | None, setting=""
) -> StrategyResult:
    n = len(outcomes)
    calls = Counter(model for o in outcomes for model in o.calls)
    total_calls = sum(calls.values())
    point = OperatingPoint(
        quality=sum(o.quality for o in outcomes) / n,
        cost_micros=sum(o.cost_micros for o in outcomes) / n,
        strong_fraction=sum(1 for o in outcomes if strong in o.calls) / n if strong else None,
        setting=setting,
    )
    return StrategyResult(
        name=name,
        kind=kind,
        point=point,
        curve=(point,),
        requests=n,
        call_share={m: c / total_calls for m, c in calls.most_common()} if total_calls else {},
        escalation_rate=sum(1 for o in outcomes if o.escalated) / n,
        errors=sum(1 for o in outcomes if o.error),
        degraded=sum(1 for o in outcomes if o.degraded),
    )


# -- references -------------------------------------------------------------------------


def single_model_outcomes(setup: EvalSetup, model: str) -> list[RequestOutcome]:
    return [
        RequestOutcome(setup.quality(r, model), setup.cost(r, model), (model,), model)
        for r in setup.records
    ]


def oracle_outcomes(setup: EvalSetup) -> list[RequestOutcome]:
    out = []
    for record in setup.records:
        best = max(setup.quality(record, m) for m in setup.models)
        model = min(
            (m for m in setup.models if setup.quality(record, m) >= best),
            key=lambda m: (setup.cost(record, m), m),
        )
        out.append(RequestOutcome(best, setup.cost(record, model), (model,), model))
    return out


def weak_and_strong(singles: Sequence[StrategyResult]) -> tuple[str, str] | None:
    """For two-model data: (worse, better) by quality, as RouteLLM names them (the
    weak model is usually, not necessarily, the cheaper); None without a quality gap."""
    if len(singles) != 2:
        return None
    weak, strong = sorted(singles, key=lambda s: (s.point.quality, s.point.cost_micros))
    if strong.point.quality <= weak.point.quality:
        return None
    return weak.name, strong.name


def _mixture(hull: Sequence[metrics.CostQuality], vertices: Sequence[str], cost: float):
    """Which single models, in what shares, a random mixture at `cost` draws."""
    if cost <= hull[0].cost:
        return {vertices[0]: 1.0}
    for (a, va), (b, vb) in itertools.pairwise(zip(hull, vertices, strict=True)):
        if cost <= b.cost:
            w = (cost - a.cost) / (b.cost - a.cost)
            return {m: s for m, s in ((va, 1.0 - w), (vb, w)) if s > 0}
    return {vertices[-1]: 1.0}


def random_reference(
    singles: Sequence[StrategyResult], *, at_cost: float | None, strong: str | None
) -> StrategyResult:
    """The best random mixture of single models: the upper hull of their points.

    Its headline point is the mixture at `at_cost`, clamped to the singles' range."""
    by_point = {(s.point.cost_micros, s.point.quality): s.name for s in singles}
    hull = metrics.quality_hull(metrics.CostQuality(c, q) for c, q in by_point)
    vertices = [by_point[(h.cost, h.quality)] for h in hull]  # hull vertices are singles
    curve = tuple(
        OperatingPoint(h.quality, h.cost, float(v == strong) if strong else None, v)
        for h, v in zip(hull, vertices, strict=True)
    )
    if at_cost is None:
        return StrategyResult(name="random", kind="random", point=None, curve=curve)
    cost = min(max(at_cost, hull[0].cost), hull[-1].cost)
    share = _mixture(hull, vertices, cost)
    point = OperatingPoint(
        quality=metrics.hull_quality(hull, cost),
        cost_micros=cost,
        strong_fraction=share.get(strong, 0.0) if strong else None,
    )
    return StrategyResult(
        name="random",
        kind="random",
        point=point,
        curve=curve,
        call_share=share,
        escalation_rate=0.0,
    )


# -- the policy through the router ------------------------------------------------------


async def route_policy(setup: EvalSetup, policy: Policy, *, seed: int = 0) -> list[RoutedRequest]:
    """Every record through the router's planning and execution, replayed."""
    unknown = [m for m in policy_models(policy) if m not in setup.model_map]
    if unknown:
        raise EvaluationError(
            f"the policy calls {', '.join(unknown)}, which stand for no dataset model; "
            "add them to --map FLEET=DATASET"
        )
    clock = VirtualClock()
    router = InProcessRouter(
        policy=policy,
        profiles=setup.profiles.values(),
        provider_for=ReplayFleet(setup.model_map, clock).provider_for,
        clock=clock,
        seed=seed,
        artefacts_dir=setup.artefacts_dir,
        scorer=setup.scorer,
    )
    routed = []
    for record in setup.records:
        request = route_request(record, max_output_tokens=setup.max_output_tokens)
        with replaying(record):
            routed.append(await router.route(request))
    return routed


def policy_outcomes(setup: EvalSetup, routed: Sequence[RoutedRequest]) -> list[RequestOutcome]:
    out = []
    for record, r in zip(setup.records, routed, strict=True):
        cost = 0
        for call in r.calls:
            if not call.made:
                continue
            if call.outcome in ("ok", "truncated"):
                cost += setup.cost(record, call.model_id)
            else:
                cost += call.cost_micros  # what the router billed for a failed call
        served = r.served_model if r.served_model in setup.model_map else ""
        out.append(
            RequestOutcome(
                quality=setup.quality(record, served) if served else 0.0,
                cost_micros=cost,
                calls=r.models_called,
                served_model=served,
                escalated=r.escalations > 0,
                degraded=r.degraded,
                error=r.error,
                latency_ms=sum(c.latency_ms for c in r.calls),
            )
        )
    return out


# -- curve metrics over one report ------------------------------------------------------


def finalize(
    rows: Sequence[StrategyResult], *, weak_strong: tuple[str, str] | None
) -> list[StrategyResult]:
    """Fill APGR / CPT (two-model data) and AIQ on every row; AIQ integrates over the
    single models' cost range."""
    low, high = metrics.cost_range(
        [metrics.CostQuality(row.point.cost_micros, row.point.quality)]
        for row in rows
        if row.kind == "model" and row.point is not None
    )
    by_name = {row.name: row for row in rows}
    done = []
    for row in rows:
        aiq = metrics.aiq(
            (metrics.CostQuality(p.cost_micros, p.quality) for p in row.curve),
            cost_low=low,
            cost_high=high,
        )
        changes: dict = {"aiq": aiq}
        curve_like = len(row.curve) > 1 or row.kind in ("random", "sweep", "cascade")
        if weak_strong and curve_like:
            weak = by_name[weak_strong[0]].point.quality
            strong = by_name[weak_strong[1]].point.quality
            xy = [
                (p.strong_fraction, metrics.pgr(p.quality, weak=weak, strong=strong))
                for p in row.curve
                if p.strong_fraction is not None
            ]
            changes.update(
                apgr=metrics.apgr(xy), cpt50=metrics.cpt(xy, 0.5), cpt80=metrics.cpt(xy, 0.8)
            )
        done.append(dataclasses.replace(row, **changes))
    return done
