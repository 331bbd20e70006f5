"""Converters for artefacts, guards, shadows and rollout figures (protos <-> domain)."""

from __future__ import annotations

from controlplane.convert import timestamp
from controlplane.guard import CanaryGuard, VersionCounts
from controlplane.model import ArtefactKind, ArtefactRecord, ConfigState, ShadowSplit
from switchyard.controlplane.v1 import controlplane_pb2 as pb

ARTEFACT_KINDS: dict[int, ArtefactKind] = {
    pb.ARTEFACT_KIND_PREDICTOR: "predictor",
    pb.ARTEFACT_KIND_SCORER: "scorer",
}
ARTEFACT_KIND_PROTOS = {kind: value for value, kind in ARTEFACT_KINDS.items()}


def artefact(record: ArtefactRecord) -> pb.Artefact:
    return pb.Artefact(
        digest=record.digest,
        name=record.name,
        kind=ARTEFACT_KIND_PROTOS[record.kind],
        size_bytes=record.size_bytes,
        author=record.author,
        create_time=timestamp(record.create_time_us),
    )


def guard_from_proto(message: pb.CanaryGuard) -> CanaryGuard:
    return CanaryGuard(
        min_requests=message.min_requests,
        max_error_rate=message.max_error_rate,
        max_p95_latency_ms=message.max_p95_latency_ms,
        max_cost_micros_per_1k=message.max_cost_micros_per_1k,
        max_escalation_rate=message.max_escalation_rate,
        min_verifier_acceptance=message.min_verifier_acceptance,
    )


def guard(value: CanaryGuard) -> pb.CanaryGuard:
    return pb.CanaryGuard(
        min_requests=value.min_requests,
        max_error_rate=value.max_error_rate,
        max_p95_latency_ms=value.max_p95_latency_ms,
        max_cost_micros_per_1k=value.max_cost_micros_per_1k,
        max_escalation_rate=value.max_escalation_rate,
        min_verifier_acceptance=value.min_verifier_acceptance,
    )


def shadow_from_proto(message: pb.Shadow) -> ShadowSplit:
    return ShadowSplit(
        version=message.version,
        percent=message.percent,
        execute_percent=message.execute_percent,
        max_spend_micros_per_hour=message.max_spend_micros_per_hour,
    )


def shadow(value: ShadowSplit) -> pb.Shadow:
    return pb.Shadow(
        version=value.version,
        percent=value.percent,
        execute_percent=value.execute_percent,
        max_spend_micros_per_hour=value.max_spend_micros_per_hour,
    )


def fill_rollout(message: pb.Rollout, state: ConfigState) -> pb.Rollout:
    """Add the guard and the shadow to a Rollout built from the split."""
    if state.guard is not None:
        message.guard.CopyFrom(guard(state.guard))
    if state.shadow.version:
        message.shadow.CopyFrom(shadow(state.shadow))
    return message


def counts_from_proto(message: pb.VersionStats) -> VersionCounts:
    return VersionCounts(
        requests=message.requests,
        errors=message.errors,
        escalations=message.escalations,
        verified=message.verified,
        accepted=message.accepted,
        cost_micros=message.cost_micros,
        latency_buckets=tuple(message.latency_buckets),
    )


def figures(
    version: int, role: str, counts: VersionCounts, *, share: float, routers: int
) -> pb.VersionFigures:
    return pb.VersionFigures(
        policy_version=version,
        role=role,
        traffic_share=share,
        requests=counts.requests,
        error_rate=counts.error_rate,
        p95_latency_ms=counts.p95_latency_ms,
        cost_micros_per_1k=counts.cost_micros_per_1k,
        escalation_rate=counts.escalation_rate,
        verifier_acceptance=counts.verifier_acceptance,
        verified=counts.verified,
        routers_reporting=routers,
    )
