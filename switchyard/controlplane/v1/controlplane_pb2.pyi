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
BREAKER_OVERRIDE_UNSPECIFIED: BreakerOverride
BREAKER_OVERRIDE_NONE: BreakerOverride
BREAKER_OVERRIDE_FORCED_OPEN: BreakerOverride
BREAKER_OVERRIDE_FORCED_CLOSED: BreakerOverride

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
    __slots__ = ("active_version", "canary_version", "canary_percent")
    ACTIVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANARY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    active_version: int
    canary_version: int
    canary_percent: float
    def __init__(self, active_version: _Optional[int] = ..., canary_version: _Optional[int] = ..., canary_percent: _Optional[float] = ...) -> None: ...

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
    __slots__ = ("version", "nonce", "policies", "rollout", "breaker_overrides")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    BREAKER_OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    version: str
    nonce: str
    policies: _containers.RepeatedCompositeFieldContainer[PolicyVersion]
    rollout: Rollout
    breaker_overrides: _containers.RepeatedCompositeFieldContainer[ModelBreakerOverride]
    def __init__(self, version: _Optional[str] = ..., nonce: _Optional[str] = ..., policies: _Optional[_Iterable[_Union[PolicyVersion, _Mapping]]] = ..., rollout: _Optional[_Union[Rollout, _Mapping]] = ..., breaker_overrides: _Optional[_Iterable[_Union[ModelBreakerOverride, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("router_id", "ack", "nack")
    ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    NACK_FIELD_NUMBER: _ClassVar[int]
    router_id: str
    ack: ConfigAck
    nack: ConfigNack
    def __init__(self, router_id: _Optional[str] = ..., ack: _Optional[_Union[ConfigAck, _Mapping]] = ..., nack: _Optional[_Union[ConfigNack, _Mapping]] = ...) -> None: ...

class SubscribeRouterConfigResponse(_message.Message):
    __slots__ = ("snapshot",)
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: RouterConfigSnapshot
    def __init__(self, snapshot: _Optional[_Union[RouterConfigSnapshot, _Mapping]] = ...) -> None: ...

class SetRolloutRequest(_message.Message):
    __slots__ = ("canary_version", "canary_percent", "author")
    CANARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANARY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    canary_version: int
    canary_percent: float
    author: str
    def __init__(self, canary_version: _Optional[int] = ..., canary_percent: _Optional[float] = ..., author: _Optional[str] = ...) -> None: ...

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
