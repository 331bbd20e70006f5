import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BreakerOverride(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BREAKER_OVERRIDE_UNSPECIFIED: _ClassVar[BreakerOverride]
    BREAKER_OVERRIDE_NONE: _ClassVar[BreakerOverride]
    BREAKER_OVERRIDE_FORCED_OPEN: _ClassVar[BreakerOverride]
    BREAKER_OVERRIDE_FORCED_CLOSED: _ClassVar[BreakerOverride]
    BREAKER_OVERRIDE_DRAIN: _ClassVar[BreakerOverride]

class LocalBreakerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOCAL_BREAKER_STATE_UNSPECIFIED: _ClassVar[LocalBreakerState]
    LOCAL_BREAKER_STATE_CLOSED: _ClassVar[LocalBreakerState]
    LOCAL_BREAKER_STATE_OPEN: _ClassVar[LocalBreakerState]
    LOCAL_BREAKER_STATE_HALF_OPEN: _ClassVar[LocalBreakerState]
    LOCAL_BREAKER_STATE_FORCED_OPEN: _ClassVar[LocalBreakerState]
    LOCAL_BREAKER_STATE_FORCED_CLOSED: _ClassVar[LocalBreakerState]
    LOCAL_BREAKER_STATE_DRAINING: _ClassVar[LocalBreakerState]

class FleetBreakerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FLEET_BREAKER_STATE_UNSPECIFIED: _ClassVar[FleetBreakerState]
    FLEET_BREAKER_STATE_CLOSED: _ClassVar[FleetBreakerState]
    FLEET_BREAKER_STATE_OPEN: _ClassVar[FleetBreakerState]
    FLEET_BREAKER_STATE_HALF_OPEN: _ClassVar[FleetBreakerState]

class ArtefactKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ARTEFACT_KIND_UNSPECIFIED: _ClassVar[ArtefactKind]
    ARTEFACT_KIND_PREDICTOR: _ClassVar[ArtefactKind]
    ARTEFACT_KIND_SCORER: _ClassVar[ArtefactKind]
BREAKER_OVERRIDE_UNSPECIFIED: BreakerOverride
BREAKER_OVERRIDE_NONE: BreakerOverride
BREAKER_OVERRIDE_FORCED_OPEN: BreakerOverride
BREAKER_OVERRIDE_FORCED_CLOSED: BreakerOverride
BREAKER_OVERRIDE_DRAIN: BreakerOverride
LOCAL_BREAKER_STATE_UNSPECIFIED: LocalBreakerState
LOCAL_BREAKER_STATE_CLOSED: LocalBreakerState
LOCAL_BREAKER_STATE_OPEN: LocalBreakerState
LOCAL_BREAKER_STATE_HALF_OPEN: LocalBreakerState
LOCAL_BREAKER_STATE_FORCED_OPEN: LocalBreakerState
LOCAL_BREAKER_STATE_FORCED_CLOSED: LocalBreakerState
LOCAL_BREAKER_STATE_DRAINING: LocalBreakerState
FLEET_BREAKER_STATE_UNSPECIFIED: FleetBreakerState
FLEET_BREAKER_STATE_CLOSED: FleetBreakerState
FLEET_BREAKER_STATE_OPEN: FleetBreakerState
FLEET_BREAKER_STATE_HALF_OPEN: FleetBreakerState
ARTEFACT_KIND_UNSPECIFIED: ArtefactKind
ARTEFACT_KIND_PREDICTOR: ArtefactKind
ARTEFACT_KIND_SCORER: ArtefactKind

class PolicyVersion(_message.Message):
    __slots__ = ("version", "content_hash", "author", "message", "create_time", "source")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    version: int
    content_hash: str
    author: str
    message: str
    create_time: _timestamp_pb2.Timestamp
    source: str
    def __init__(self, version: _Optional[int] = ..., content_hash: _Optional[str] = ..., author: _Optional[str] = ..., message: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ...) -> None: ...

class PublishPolicyRequest(_message.Message):
    __slots__ = ("source", "author", "message", "validate_only", "activate")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    ACTIVATE_FIELD_NUMBER: _ClassVar[int]
    source: str
    author: str
    message: str
    validate_only: bool
    activate: bool
    def __init__(self, source: _Optional[str] = ..., author: _Optional[str] = ..., message: _Optional[str] = ..., validate_only: _Optional[bool] = ..., activate: _Optional[bool] = ...) -> None: ...

class PublishPolicyResponse(_message.Message):
    __slots__ = ("policy", "active")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    policy: PolicyVersion
    active: bool
    def __init__(self, policy: _Optional[_Union[PolicyVersion, _Mapping]] = ..., active: _Optional[bool] = ...) -> None: ...

class GetPolicyRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class GetPolicyResponse(_message.Message):
    __slots__ = ("policy", "active")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    policy: PolicyVersion
    active: bool
    def __init__(self, policy: _Optional[_Union[PolicyVersion, _Mapping]] = ..., active: _Optional[bool] = ...) -> None: ...

class ListPoliciesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPoliciesResponse(_message.Message):
    __slots__ = ("policies", "next_page_token", "active_version")
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    policies: _containers.RepeatedCompositeFieldContainer[PolicyVersion]
    next_page_token: str
    active_version: int
    def __init__(self, policies: _Optional[_Iterable[_Union[PolicyVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., active_version: _Optional[int] = ...) -> None: ...

class RollbackPolicyRequest(_message.Message):
    __slots__ = ("version", "author")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    version: int
    author: str
    def __init__(self, version: _Optional[int] = ..., author: _Optional[str] = ...) -> None: ...

class RollbackPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: PolicyVersion
    def __init__(self, policy: _Optional[_Union[PolicyVersion, _Mapping]] = ...) -> None: ...

class Rollout(_message.Message):
    __slots__ = ("active_version", "canary_version", "canary_percent", "guard", "shadow")
    ACTIVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANARY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    GUARD_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    active_version: int
    canary_version: int
    canary_percent: float
    guard: CanaryGuard
    shadow: Shadow
    def __init__(self, active_version: _Optional[int] = ..., canary_version: _Optional[int] = ..., canary_percent: _Optional[float] = ..., guard: _Optional[_Union[CanaryGuard, _Mapping]] = ..., shadow: _Optional[_Union[Shadow, _Mapping]] = ...) -> None: ...

class CanaryGuard(_message.Message):
    __slots__ = ("min_requests", "max_error_rate", "max_p95_latency_ms", "max_cost_micros_per_1k", "max_escalation_rate", "min_verifier_acceptance")
    MIN_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    MAX_ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    MAX_P95_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_COST_MICROS_PER_1K_FIELD_NUMBER: _ClassVar[int]
    MAX_ESCALATION_RATE_FIELD_NUMBER: _ClassVar[int]
    MIN_VERIFIER_ACCEPTANCE_FIELD_NUMBER: _ClassVar[int]
    min_requests: int
    max_error_rate: float
    max_p95_latency_ms: float
    max_cost_micros_per_1k: int
    max_escalation_rate: float
    min_verifier_acceptance: float
    def __init__(self, min_requests: _Optional[int] = ..., max_error_rate: _Optional[float] = ..., max_p95_latency_ms: _Optional[float] = ..., max_cost_micros_per_1k: _Optional[int] = ..., max_escalation_rate: _Optional[float] = ..., min_verifier_acceptance: _Optional[float] = ...) -> None: ...

class Shadow(_message.Message):
    __slots__ = ("version", "percent", "execute_percent", "max_spend_micros_per_hour")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MAX_SPEND_MICROS_PER_HOUR_FIELD_NUMBER: _ClassVar[int]
    version: int
    percent: float
    execute_percent: float
    max_spend_micros_per_hour: int
    def __init__(self, version: _Optional[int] = ..., percent: _Optional[float] = ..., execute_percent: _Optional[float] = ..., max_spend_micros_per_hour: _Optional[int] = ...) -> None: ...

class ModelBreakerOverride(_message.Message):
    __slots__ = ("model_id", "override", "author", "reason", "update_time")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    override: BreakerOverride
    author: str
    reason: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, model_id: _Optional[str] = ..., override: _Optional[_Union[BreakerOverride, str]] = ..., author: _Optional[str] = ..., reason: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RouterConfigSnapshot(_message.Message):
    __slots__ = ("version", "nonce", "policies", "rollout", "breaker_overrides", "artefacts")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    BREAKER_OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    ARTEFACTS_FIELD_NUMBER: _ClassVar[int]
    version: str
    nonce: str
    policies: _containers.RepeatedCompositeFieldContainer[PolicyVersion]
    rollout: Rollout
    breaker_overrides: _containers.RepeatedCompositeFieldContainer[ModelBreakerOverride]
    artefacts: _containers.RepeatedCompositeFieldContainer[Artefact]
    def __init__(self, version: _Optional[str] = ..., nonce: _Optional[str] = ..., policies: _Optional[_Iterable[_Union[PolicyVersion, _Mapping]]] = ..., rollout: _Optional[_Union[Rollout, _Mapping]] = ..., breaker_overrides: _Optional[_Iterable[_Union[ModelBreakerOverride, _Mapping]]] = ..., artefacts: _Optional[_Iterable[_Union[Artefact, _Mapping]]] = ...) -> None: ...

class ConfigAck(_message.Message):
    __slots__ = ("version", "nonce")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    version: str
    nonce: str
    def __init__(self, version: _Optional[str] = ..., nonce: _Optional[str] = ...) -> None: ...

class ConfigNack(_message.Message):
    __slots__ = ("version", "nonce", "error_detail")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    ERROR_DETAIL_FIELD_NUMBER: _ClassVar[int]
    version: str
    nonce: str
    error_detail: str
    def __init__(self, version: _Optional[str] = ..., nonce: _Optional[str] = ..., error_detail: _Optional[str] = ...) -> None: ...

class SubscribeRouterConfigRequest(_message.Message):
    __slots__ = ("router_id", "ack", "nack", "report")
    ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    NACK_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    router_id: str
    ack: ConfigAck
    nack: ConfigNack
    report: RouterReport
    def __init__(self, router_id: _Optional[str] = ..., ack: _Optional[_Union[ConfigAck, _Mapping]] = ..., nack: _Optional[_Union[ConfigNack, _Mapping]] = ..., report: _Optional[_Union[RouterReport, _Mapping]] = ...) -> None: ...

class SubscribeRouterConfigResponse(_message.Message):
    __slots__ = ("snapshot", "fleet_breakers", "fleet_estimates")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    FLEET_BREAKERS_FIELD_NUMBER: _ClassVar[int]
    FLEET_ESTIMATES_FIELD_NUMBER: _ClassVar[int]
    snapshot: RouterConfigSnapshot
    fleet_breakers: FleetBreakerView
    fleet_estimates: FleetEstimates
    def __init__(self, snapshot: _Optional[_Union[RouterConfigSnapshot, _Mapping]] = ..., fleet_breakers: _Optional[_Union[FleetBreakerView, _Mapping]] = ..., fleet_estimates: _Optional[_Union[FleetEstimates, _Mapping]] = ...) -> None: ...

class SetRolloutRequest(_message.Message):
    __slots__ = ("canary_version", "canary_percent", "author", "guard")
    CANARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANARY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    GUARD_FIELD_NUMBER: _ClassVar[int]
    canary_version: int
    canary_percent: float
    author: str
    guard: CanaryGuard
    def __init__(self, canary_version: _Optional[int] = ..., canary_percent: _Optional[float] = ..., author: _Optional[str] = ..., guard: _Optional[_Union[CanaryGuard, _Mapping]] = ...) -> None: ...

class SetRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class SetBreakerOverrideRequest(_message.Message):
    __slots__ = ("model_id", "override", "author", "reason")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    override: BreakerOverride
    author: str
    reason: str
    def __init__(self, model_id: _Optional[str] = ..., override: _Optional[_Union[BreakerOverride, str]] = ..., author: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SetBreakerOverrideResponse(_message.Message):
    __slots__ = ("breaker_overrides",)
    BREAKER_OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    breaker_overrides: _containers.RepeatedCompositeFieldContainer[ModelBreakerOverride]
    def __init__(self, breaker_overrides: _Optional[_Iterable[_Union[ModelBreakerOverride, _Mapping]]] = ...) -> None: ...

class GetRouterConfigRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRouterConfigResponse(_message.Message):
    __slots__ = ("snapshot",)
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: RouterConfigSnapshot
    def __init__(self, snapshot: _Optional[_Union[RouterConfigSnapshot, _Mapping]] = ...) -> None: ...

class RouterStatus(_message.Message):
    __slots__ = ("router_id", "connected", "acked_snapshot_version", "active_version", "canary_version", "ack_time", "nacked_snapshot_version", "nack_error", "nack_time", "last_seen_time", "up_to_date")
    ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    ACKED_SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACK_TIME_FIELD_NUMBER: _ClassVar[int]
    NACKED_SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    NACK_ERROR_FIELD_NUMBER: _ClassVar[int]
    NACK_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_TIME_FIELD_NUMBER: _ClassVar[int]
    UP_TO_DATE_FIELD_NUMBER: _ClassVar[int]
    router_id: str
    connected: bool
    acked_snapshot_version: str
    active_version: int
    canary_version: int
    ack_time: _timestamp_pb2.Timestamp
    nacked_snapshot_version: str
    nack_error: str
    nack_time: _timestamp_pb2.Timestamp
    last_seen_time: _timestamp_pb2.Timestamp
    up_to_date: bool
    def __init__(self, router_id: _Optional[str] = ..., connected: _Optional[bool] = ..., acked_snapshot_version: _Optional[str] = ..., active_version: _Optional[int] = ..., canary_version: _Optional[int] = ..., ack_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., nacked_snapshot_version: _Optional[str] = ..., nack_error: _Optional[str] = ..., nack_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., up_to_date: _Optional[bool] = ...) -> None: ...

class ListRoutersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRoutersResponse(_message.Message):
    __slots__ = ("routers", "next_page_token", "current_snapshot_version")
    ROUTERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CURRENT_SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    routers: _containers.RepeatedCompositeFieldContainer[RouterStatus]
    next_page_token: str
    current_snapshot_version: str
    def __init__(self, routers: _Optional[_Iterable[_Union[RouterStatus, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., current_snapshot_version: _Optional[str] = ...) -> None: ...

class BreakerTransition(_message.Message):
    __slots__ = ("from_state", "to_state")
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    from_state: LocalBreakerState
    to_state: LocalBreakerState
    def __init__(self, from_state: _Optional[_Union[LocalBreakerState, str]] = ..., to_state: _Optional[_Union[LocalBreakerState, str]] = ...) -> None: ...

class ModelBreakerReport(_message.Message):
    __slots__ = ("model_id", "state", "transitions", "successes", "failures", "slow_calls", "lease_id", "probes_admitted", "probe_successes", "probe_failures")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    SUCCESSES_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    SLOW_CALLS_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    PROBES_ADMITTED_FIELD_NUMBER: _ClassVar[int]
    PROBE_SUCCESSES_FIELD_NUMBER: _ClassVar[int]
    PROBE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    state: LocalBreakerState
    transitions: _containers.RepeatedCompositeFieldContainer[BreakerTransition]
    successes: int
    failures: int
    slow_calls: int
    lease_id: str
    probes_admitted: int
    probe_successes: int
    probe_failures: int
    def __init__(self, model_id: _Optional[str] = ..., state: _Optional[_Union[LocalBreakerState, str]] = ..., transitions: _Optional[_Iterable[_Union[BreakerTransition, _Mapping]]] = ..., successes: _Optional[int] = ..., failures: _Optional[int] = ..., slow_calls: _Optional[int] = ..., lease_id: _Optional[str] = ..., probes_admitted: _Optional[int] = ..., probe_successes: _Optional[int] = ..., probe_failures: _Optional[int] = ...) -> None: ...

class OutcomeEstimate(_message.Message):
    __slots__ = ("model_id", "task_type", "accepted_weight", "total_weight", "outcomes", "latency_p50_ms", "latency_p95_ms", "latency_samples")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P50_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P95_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    task_type: str
    accepted_weight: float
    total_weight: float
    outcomes: int
    latency_p50_ms: float
    latency_p95_ms: float
    latency_samples: int
    def __init__(self, model_id: _Optional[str] = ..., task_type: _Optional[str] = ..., accepted_weight: _Optional[float] = ..., total_weight: _Optional[float] = ..., outcomes: _Optional[int] = ..., latency_p50_ms: _Optional[float] = ..., latency_p95_ms: _Optional[float] = ..., latency_samples: _Optional[int] = ...) -> None: ...

class RouterReport(_message.Message):
    __slots__ = ("router_id", "nonce", "breakers", "estimates")
    ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    BREAKERS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATES_FIELD_NUMBER: _ClassVar[int]
    router_id: str
    nonce: str
    breakers: _containers.RepeatedCompositeFieldContainer[ModelBreakerReport]
    estimates: _containers.RepeatedCompositeFieldContainer[OutcomeEstimate]
    def __init__(self, router_id: _Optional[str] = ..., nonce: _Optional[str] = ..., breakers: _Optional[_Iterable[_Union[ModelBreakerReport, _Mapping]]] = ..., estimates: _Optional[_Iterable[_Union[OutcomeEstimate, _Mapping]]] = ...) -> None: ...

class BreakerLease(_message.Message):
    __slots__ = ("lease_id", "router_id", "probes", "expire_time")
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    PROBES_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    router_id: str
    probes: int
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, lease_id: _Optional[str] = ..., router_id: _Optional[str] = ..., probes: _Optional[int] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FleetBreaker(_message.Message):
    __slots__ = ("model_id", "state", "opened_by_router_id", "lease")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OPENED_BY_ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    state: FleetBreakerState
    opened_by_router_id: str
    lease: BreakerLease
    def __init__(self, model_id: _Optional[str] = ..., state: _Optional[_Union[FleetBreakerState, str]] = ..., opened_by_router_id: _Optional[str] = ..., lease: _Optional[_Union[BreakerLease, _Mapping]] = ...) -> None: ...

class FleetBreakerView(_message.Message):
    __slots__ = ("revision", "breakers")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    BREAKERS_FIELD_NUMBER: _ClassVar[int]
    revision: int
    breakers: _containers.RepeatedCompositeFieldContainer[FleetBreaker]
    def __init__(self, revision: _Optional[int] = ..., breakers: _Optional[_Iterable[_Union[FleetBreaker, _Mapping]]] = ...) -> None: ...

class FleetEstimates(_message.Message):
    __slots__ = ("estimates", "routers")
    ESTIMATES_FIELD_NUMBER: _ClassVar[int]
    ROUTERS_FIELD_NUMBER: _ClassVar[int]
    estimates: _containers.RepeatedCompositeFieldContainer[OutcomeEstimate]
    routers: int
    def __init__(self, estimates: _Optional[_Iterable[_Union[OutcomeEstimate, _Mapping]]] = ..., routers: _Optional[int] = ...) -> None: ...

class ListBreakersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class RouterBreakerStatus(_message.Message):
    __slots__ = ("router_id", "state", "successes", "failures", "slow_calls", "report_time", "connected")
    ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SUCCESSES_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    SLOW_CALLS_FIELD_NUMBER: _ClassVar[int]
    REPORT_TIME_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    router_id: str
    state: LocalBreakerState
    successes: int
    failures: int
    slow_calls: int
    report_time: _timestamp_pb2.Timestamp
    connected: bool
    def __init__(self, router_id: _Optional[str] = ..., state: _Optional[_Union[LocalBreakerState, str]] = ..., successes: _Optional[int] = ..., failures: _Optional[int] = ..., slow_calls: _Optional[int] = ..., report_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., connected: _Optional[bool] = ...) -> None: ...

class ModelBreakerStatus(_message.Message):
    __slots__ = ("model_id", "state", "override", "override_reason", "opened_by_router_id", "open_time", "half_open_time", "lease", "routers")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_REASON_FIELD_NUMBER: _ClassVar[int]
    OPENED_BY_ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    HALF_OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    ROUTERS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    state: FleetBreakerState
    override: BreakerOverride
    override_reason: str
    opened_by_router_id: str
    open_time: _timestamp_pb2.Timestamp
    half_open_time: _timestamp_pb2.Timestamp
    lease: BreakerLease
    routers: _containers.RepeatedCompositeFieldContainer[RouterBreakerStatus]
    def __init__(self, model_id: _Optional[str] = ..., state: _Optional[_Union[FleetBreakerState, str]] = ..., override: _Optional[_Union[BreakerOverride, str]] = ..., override_reason: _Optional[str] = ..., opened_by_router_id: _Optional[str] = ..., open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., half_open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lease: _Optional[_Union[BreakerLease, _Mapping]] = ..., routers: _Optional[_Iterable[_Union[RouterBreakerStatus, _Mapping]]] = ...) -> None: ...

class ListBreakersResponse(_message.Message):
    __slots__ = ("breakers", "next_page_token", "ignored_unknown_router_reports", "ignored_stale_nonce_reports")
    BREAKERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    IGNORED_UNKNOWN_ROUTER_REPORTS_FIELD_NUMBER: _ClassVar[int]
    IGNORED_STALE_NONCE_REPORTS_FIELD_NUMBER: _ClassVar[int]
    breakers: _containers.RepeatedCompositeFieldContainer[ModelBreakerStatus]
    next_page_token: str
    ignored_unknown_router_reports: int
    ignored_stale_nonce_reports: int
    def __init__(self, breakers: _Optional[_Iterable[_Union[ModelBreakerStatus, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., ignored_unknown_router_reports: _Optional[int] = ..., ignored_stale_nonce_reports: _Optional[int] = ...) -> None: ...

class Artefact(_message.Message):
    __slots__ = ("digest", "name", "kind", "size_bytes", "author", "create_time")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    digest: str
    name: str
    kind: ArtefactKind
    size_bytes: int
    author: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, digest: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[ArtefactKind, str]] = ..., size_bytes: _Optional[int] = ..., author: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UploadArtefactRequest(_message.Message):
    __slots__ = ("name", "kind", "content", "sha256", "author")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: ArtefactKind
    content: bytes
    sha256: str
    author: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[ArtefactKind, str]] = ..., content: _Optional[bytes] = ..., sha256: _Optional[str] = ..., author: _Optional[str] = ...) -> None: ...

class UploadArtefactResponse(_message.Message):
    __slots__ = ("artefact", "created")
    ARTEFACT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    artefact: Artefact
    created: bool
    def __init__(self, artefact: _Optional[_Union[Artefact, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetArtefactRequest(_message.Message):
    __slots__ = ("digest",)
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    digest: str
    def __init__(self, digest: _Optional[str] = ...) -> None: ...

class GetArtefactResponse(_message.Message):
    __slots__ = ("data", "offset", "size_bytes")
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    offset: int
    size_bytes: int
    def __init__(self, data: _Optional[bytes] = ..., offset: _Optional[int] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class ListArtefactsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListArtefactsResponse(_message.Message):
    __slots__ = ("artefacts", "next_page_token")
    ARTEFACTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    artefacts: _containers.RepeatedCompositeFieldContainer[Artefact]
    next_page_token: str
    def __init__(self, artefacts: _Optional[_Iterable[_Union[Artefact, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class VersionStats(_message.Message):
    __slots__ = ("policy_version", "requests", "errors", "escalations", "verified", "accepted", "cost_micros", "latency_buckets")
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    ESCALATIONS_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_BUCKETS_FIELD_NUMBER: _ClassVar[int]
    policy_version: int
    requests: int
    errors: int
    escalations: int
    verified: int
    accepted: int
    cost_micros: int
    latency_buckets: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, policy_version: _Optional[int] = ..., requests: _Optional[int] = ..., errors: _Optional[int] = ..., escalations: _Optional[int] = ..., verified: _Optional[int] = ..., accepted: _Optional[int] = ..., cost_micros: _Optional[int] = ..., latency_buckets: _Optional[_Iterable[int]] = ...) -> None: ...

class ShadowStats(_message.Message):
    __slots__ = ("shadow_version", "active_version", "compared", "agreed", "executed", "shadow_cost_micros", "active_cost_micros", "shadow_latency_buckets", "active_latency_buckets", "shadow_verified", "shadow_accepted", "active_verified", "active_accepted")
    SHADOW_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    COMPARED_FIELD_NUMBER: _ClassVar[int]
    AGREED_FIELD_NUMBER: _ClassVar[int]
    EXECUTED_FIELD_NUMBER: _ClassVar[int]
    SHADOW_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    SHADOW_LATENCY_BUCKETS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_LATENCY_BUCKETS_FIELD_NUMBER: _ClassVar[int]
    SHADOW_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    SHADOW_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    shadow_version: int
    active_version: int
    compared: int
    agreed: int
    executed: int
    shadow_cost_micros: int
    active_cost_micros: int
    shadow_latency_buckets: _containers.RepeatedScalarFieldContainer[int]
    active_latency_buckets: _containers.RepeatedScalarFieldContainer[int]
    shadow_verified: int
    shadow_accepted: int
    active_verified: int
    active_accepted: int
    def __init__(self, shadow_version: _Optional[int] = ..., active_version: _Optional[int] = ..., compared: _Optional[int] = ..., agreed: _Optional[int] = ..., executed: _Optional[int] = ..., shadow_cost_micros: _Optional[int] = ..., active_cost_micros: _Optional[int] = ..., shadow_latency_buckets: _Optional[_Iterable[int]] = ..., active_latency_buckets: _Optional[_Iterable[int]] = ..., shadow_verified: _Optional[int] = ..., shadow_accepted: _Optional[int] = ..., active_verified: _Optional[int] = ..., active_accepted: _Optional[int] = ...) -> None: ...

class ReportRolloutStatsRequest(_message.Message):
    __slots__ = ("router_id", "boot_id", "versions", "shadows")
    ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    SHADOWS_FIELD_NUMBER: _ClassVar[int]
    router_id: str
    boot_id: str
    versions: _containers.RepeatedCompositeFieldContainer[VersionStats]
    shadows: _containers.RepeatedCompositeFieldContainer[ShadowStats]
    def __init__(self, router_id: _Optional[str] = ..., boot_id: _Optional[str] = ..., versions: _Optional[_Iterable[_Union[VersionStats, _Mapping]]] = ..., shadows: _Optional[_Iterable[_Union[ShadowStats, _Mapping]]] = ...) -> None: ...

class ReportRolloutStatsResponse(_message.Message):
    __slots__ = ("canary_rolled_back",)
    CANARY_ROLLED_BACK_FIELD_NUMBER: _ClassVar[int]
    canary_rolled_back: bool
    def __init__(self, canary_rolled_back: _Optional[bool] = ...) -> None: ...

class GetRolloutStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VersionFigures(_message.Message):
    __slots__ = ("policy_version", "role", "traffic_share", "requests", "error_rate", "p95_latency_ms", "cost_micros_per_1k", "escalation_rate", "verifier_acceptance", "verified", "routers_reporting")
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_SHARE_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    P95_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_PER_1K_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_RATE_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_ACCEPTANCE_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    ROUTERS_REPORTING_FIELD_NUMBER: _ClassVar[int]
    policy_version: int
    role: str
    traffic_share: float
    requests: int
    error_rate: float
    p95_latency_ms: float
    cost_micros_per_1k: int
    escalation_rate: float
    verifier_acceptance: float
    verified: int
    routers_reporting: int
    def __init__(self, policy_version: _Optional[int] = ..., role: _Optional[str] = ..., traffic_share: _Optional[float] = ..., requests: _Optional[int] = ..., error_rate: _Optional[float] = ..., p95_latency_ms: _Optional[float] = ..., cost_micros_per_1k: _Optional[int] = ..., escalation_rate: _Optional[float] = ..., verifier_acceptance: _Optional[float] = ..., verified: _Optional[int] = ..., routers_reporting: _Optional[int] = ...) -> None: ...

class ShadowComparison(_message.Message):
    __slots__ = ("shadow_version", "active_version", "compared", "agreement_rate", "executed", "shadow_cost_micros_per_1k", "active_cost_micros_per_1k", "shadow_p95_latency_ms", "active_p95_latency_ms", "shadow_acceptance", "active_acceptance", "shadow_verified")
    SHADOW_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    COMPARED_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_RATE_FIELD_NUMBER: _ClassVar[int]
    EXECUTED_FIELD_NUMBER: _ClassVar[int]
    SHADOW_COST_MICROS_PER_1K_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_COST_MICROS_PER_1K_FIELD_NUMBER: _ClassVar[int]
    SHADOW_P95_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_P95_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    SHADOW_ACCEPTANCE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_ACCEPTANCE_FIELD_NUMBER: _ClassVar[int]
    SHADOW_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    shadow_version: int
    active_version: int
    compared: int
    agreement_rate: float
    executed: int
    shadow_cost_micros_per_1k: int
    active_cost_micros_per_1k: int
    shadow_p95_latency_ms: float
    active_p95_latency_ms: float
    shadow_acceptance: float
    active_acceptance: float
    shadow_verified: int
    def __init__(self, shadow_version: _Optional[int] = ..., active_version: _Optional[int] = ..., compared: _Optional[int] = ..., agreement_rate: _Optional[float] = ..., executed: _Optional[int] = ..., shadow_cost_micros_per_1k: _Optional[int] = ..., active_cost_micros_per_1k: _Optional[int] = ..., shadow_p95_latency_ms: _Optional[float] = ..., active_p95_latency_ms: _Optional[float] = ..., shadow_acceptance: _Optional[float] = ..., active_acceptance: _Optional[float] = ..., shadow_verified: _Optional[int] = ...) -> None: ...

class Promotion(_message.Message):
    __slots__ = ("canary_version", "steps", "next_step", "next_step_time", "step_interval_s", "waiting_for")
    CANARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_STEP_FIELD_NUMBER: _ClassVar[int]
    NEXT_STEP_TIME_FIELD_NUMBER: _ClassVar[int]
    STEP_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_FIELD_NUMBER: _ClassVar[int]
    canary_version: int
    steps: _containers.RepeatedScalarFieldContainer[float]
    next_step: int
    next_step_time: _timestamp_pb2.Timestamp
    step_interval_s: float
    waiting_for: str
    def __init__(self, canary_version: _Optional[int] = ..., steps: _Optional[_Iterable[float]] = ..., next_step: _Optional[int] = ..., next_step_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., step_interval_s: _Optional[float] = ..., waiting_for: _Optional[str] = ...) -> None: ...

class RolloutEvent(_message.Message):
    __slots__ = ("generation", "action", "detail", "author", "time")
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    generation: int
    action: str
    detail: str
    author: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, generation: _Optional[int] = ..., action: _Optional[str] = ..., detail: _Optional[str] = ..., author: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetRolloutStatusResponse(_message.Message):
    __slots__ = ("rollout", "versions", "shadow", "promotion", "events", "guard_verdict")
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    GUARD_VERDICT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    versions: _containers.RepeatedCompositeFieldContainer[VersionFigures]
    shadow: ShadowComparison
    promotion: Promotion
    events: _containers.RepeatedCompositeFieldContainer[RolloutEvent]
    guard_verdict: str
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ..., versions: _Optional[_Iterable[_Union[VersionFigures, _Mapping]]] = ..., shadow: _Optional[_Union[ShadowComparison, _Mapping]] = ..., promotion: _Optional[_Union[Promotion, _Mapping]] = ..., events: _Optional[_Iterable[_Union[RolloutEvent, _Mapping]]] = ..., guard_verdict: _Optional[str] = ...) -> None: ...

class PromoteCanaryRequest(_message.Message):
    __slots__ = ("steps", "step_interval_s", "author")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    STEP_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedScalarFieldContainer[float]
    step_interval_s: float
    author: str
    def __init__(self, steps: _Optional[_Iterable[float]] = ..., step_interval_s: _Optional[float] = ..., author: _Optional[str] = ...) -> None: ...

class PromoteCanaryResponse(_message.Message):
    __slots__ = ("promotion",)
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    promotion: Promotion
    def __init__(self, promotion: _Optional[_Union[Promotion, _Mapping]] = ...) -> None: ...

class SetShadowRequest(_message.Message):
    __slots__ = ("shadow", "author")
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    shadow: Shadow
    author: str
    def __init__(self, shadow: _Optional[_Union[Shadow, _Mapping]] = ..., author: _Optional[str] = ...) -> None: ...

class SetShadowResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...
