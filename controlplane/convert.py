"""Explicit converters from control-plane records to protos (and back where needed)."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from controlplane.model import (
    BreakerOverrideRecord,
    BreakerState,
    ConfigState,
    PolicyRecord,
    RouterRecord,
)
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.policy.rollout import RolloutSplit


def timestamp(time_us: int) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    if time_us:
        ts.FromMicroseconds(time_us)
    return ts


def policy_version(record: PolicyRecord) -> pb.PolicyVersion:
    message = pb.PolicyVersion(
        version=record.version,
        content_hash=record.content_hash,
        author=record.author,
        message=record.message,
        source=record.source,
    )
    if record.create_time_us:
        message.create_time.CopyFrom(timestamp(record.create_time_us))
    return message


def rollout(split: RolloutSplit) -> pb.Rollout:
    return pb.Rollout(
        active_version=split.active_version,
        canary_version=split.canary_version,
        canary_percent=split.canary_percent,
    )


BREAKER_STATES = {
    "forced_open": pb.BREAKER_OVERRIDE_FORCED_OPEN,
    "forced_closed": pb.BREAKER_OVERRIDE_FORCED_CLOSED,
    "draining": pb.BREAKER_OVERRIDE_DRAIN,
}


BREAKER_REQUESTS: dict[int, BreakerState | None] = {
    pb.BREAKER_OVERRIDE_FORCED_OPEN: "forced_open",
    pb.BREAKER_OVERRIDE_FORCED_CLOSED: "forced_closed",
    pb.BREAKER_OVERRIDE_DRAIN: "draining",
    pb.BREAKER_OVERRIDE_NONE: None,
}


def breaker_override(record: BreakerOverrideRecord) -> pb.ModelBreakerOverride:
    return pb.ModelBreakerOverride(
        model_id=record.model_id,
        override=BREAKER_STATES[record.state],
        author=record.author,
        reason=record.reason,
        update_time=timestamp(record.update_time_us),
    )


def snapshot(state: ConfigState, nonce: str) -> pb.RouterConfigSnapshot:
    """The wire snapshot: version is the generation as a string, as xDS does."""
    # Imported here: rollout_convert builds on this module's timestamp().
    from controlplane import rollout_convert

    return pb.RouterConfigSnapshot(
        version=str(state.generation),
        nonce=nonce,
        policies=[policy_version(p) for p in state.policies],
        rollout=rollout_convert.fill_rollout(rollout(state.rollout), state),
        breaker_overrides=[breaker_override(o) for o in state.breaker_overrides],
        artefacts=[rollout_convert.artefact(a) for a in state.artefacts],
    )


def router_status(record: RouterRecord, *, connected: bool, current: int) -> pb.RouterStatus:
    return pb.RouterStatus(
        router_id=record.router_id,
        connected=connected,
        acked_snapshot_version=record.acked_snapshot_version,
        active_version=record.acked_active_version,
        canary_version=record.acked_canary_version,
        ack_time=timestamp(record.ack_time_us),
        nacked_snapshot_version=record.nacked_snapshot_version,
        nack_error=record.nack_error,
        nack_time=timestamp(record.nack_time_us),
        last_seen_time=timestamp(record.last_seen_us),
        up_to_date=record.acked_snapshot_version == str(current),
    )
