from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResponseFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESPONSE_FORMAT_UNSPECIFIED: _ClassVar[ResponseFormat]
    RESPONSE_FORMAT_TEXT: _ClassVar[ResponseFormat]
    RESPONSE_FORMAT_JSON_OBJECT: _ClassVar[ResponseFormat]

class AttemptOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTEMPT_OUTCOME_UNSPECIFIED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_OK: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_TIMEOUT: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_RATE_LIMITED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_SERVER_ERROR: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_CLIENT_ERROR: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_CONNECTION_ERROR: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_MALFORMED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_TRUNCATED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_SKIPPED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_CANCELLED: _ClassVar[AttemptOutcome]

class AttemptVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTEMPT_VERDICT_UNSPECIFIED: _ClassVar[AttemptVerdict]
    ATTEMPT_VERDICT_ACCEPT: _ClassVar[AttemptVerdict]
    ATTEMPT_VERDICT_REJECT: _ClassVar[AttemptVerdict]
    ATTEMPT_VERDICT_NOT_VERIFIED: _ClassVar[AttemptVerdict]

class BreakerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BREAKER_STATE_UNSPECIFIED: _ClassVar[BreakerState]
    BREAKER_STATE_CLOSED: _ClassVar[BreakerState]
    BREAKER_STATE_OPEN: _ClassVar[BreakerState]
    BREAKER_STATE_HALF_OPEN: _ClassVar[BreakerState]
    BREAKER_STATE_FORCED_OPEN: _ClassVar[BreakerState]
    BREAKER_STATE_FORCED_CLOSED: _ClassVar[BreakerState]
RESPONSE_FORMAT_UNSPECIFIED: ResponseFormat
RESPONSE_FORMAT_TEXT: ResponseFormat
RESPONSE_FORMAT_JSON_OBJECT: ResponseFormat
ATTEMPT_OUTCOME_UNSPECIFIED: AttemptOutcome
ATTEMPT_OUTCOME_OK: AttemptOutcome
ATTEMPT_OUTCOME_TIMEOUT: AttemptOutcome
ATTEMPT_OUTCOME_RATE_LIMITED: AttemptOutcome
ATTEMPT_OUTCOME_SERVER_ERROR: AttemptOutcome
ATTEMPT_OUTCOME_CLIENT_ERROR: AttemptOutcome
ATTEMPT_OUTCOME_CONNECTION_ERROR: AttemptOutcome
ATTEMPT_OUTCOME_MALFORMED: AttemptOutcome
ATTEMPT_OUTCOME_TRUNCATED: AttemptOutcome
ATTEMPT_OUTCOME_SKIPPED: AttemptOutcome
ATTEMPT_OUTCOME_CANCELLED: AttemptOutcome
ATTEMPT_VERDICT_UNSPECIFIED: AttemptVerdict
ATTEMPT_VERDICT_ACCEPT: AttemptVerdict
ATTEMPT_VERDICT_REJECT: AttemptVerdict
ATTEMPT_VERDICT_NOT_VERIFIED: AttemptVerdict
BREAKER_STATE_UNSPECIFIED: BreakerState
BREAKER_STATE_CLOSED: BreakerState
BREAKER_STATE_OPEN: BreakerState
BREAKER_STATE_HALF_OPEN: BreakerState
BREAKER_STATE_FORCED_OPEN: BreakerState
BREAKER_STATE_FORCED_CLOSED: BreakerState

class ChatMessage(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class RouteRequest(_message.Message):
    __slots__ = ("messages", "task_type", "tenant", "tier", "metadata", "max_output_tokens", "latency_slo_ms", "budget_micros", "response_format", "idempotency_key", "feature_flags")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_SLO_MS_FIELD_NUMBER: _ClassVar[int]
    BUDGET_MICROS_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FLAGS_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    task_type: str
    tenant: str
    tier: str
    metadata: _containers.ScalarMap[str, str]
    max_output_tokens: int
    latency_slo_ms: int
    budget_micros: int
    response_format: ResponseFormat
    idempotency_key: str
    feature_flags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., task_type: _Optional[str] = ..., tenant: _Optional[str] = ..., tier: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., max_output_tokens: _Optional[int] = ..., latency_slo_ms: _Optional[int] = ..., budget_micros: _Optional[int] = ..., response_format: _Optional[_Union[ResponseFormat, str]] = ..., idempotency_key: _Optional[str] = ..., feature_flags: _Optional[_Iterable[str]] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("model_id", "stage", "retry", "outcome", "latency_ms", "input_tokens", "output_tokens", "cost_micros", "verdict", "detail", "breaker_state", "verifier_score")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    BREAKER_STATE_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_SCORE_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    stage: int
    retry: int
    outcome: AttemptOutcome
    latency_ms: int
    input_tokens: int
    output_tokens: int
    cost_micros: int
    verdict: AttemptVerdict
    detail: str
    breaker_state: BreakerState
    verifier_score: float
    def __init__(self, model_id: _Optional[str] = ..., stage: _Optional[int] = ..., retry: _Optional[int] = ..., outcome: _Optional[_Union[AttemptOutcome, str]] = ..., latency_ms: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cost_micros: _Optional[int] = ..., verdict: _Optional[_Union[AttemptVerdict, str]] = ..., detail: _Optional[str] = ..., breaker_state: _Optional[_Union[BreakerState, str]] = ..., verifier_score: _Optional[float] = ...) -> None: ...

class RouteResponse(_message.Message):
    __slots__ = ("answer", "model_id", "rule", "strategy", "policy_version", "attempts", "total_cost_micros", "total_latency_ms", "input_tokens", "output_tokens", "degraded", "cache_hit", "escalations", "request_id", "finish_reason", "review_ticket_id", "panic", "agreement", "hedged", "idempotent_replay")
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_FIELD_NUMBER: _ClassVar[int]
    ESCALATIONS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    REVIEW_TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    PANIC_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    HEDGED_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENT_REPLAY_FIELD_NUMBER: _ClassVar[int]
    answer: str
    model_id: str
    rule: str
    strategy: str
    policy_version: int
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    total_cost_micros: int
    total_latency_ms: int
    input_tokens: int
    output_tokens: int
    degraded: bool
    cache_hit: bool
    escalations: int
    request_id: str
    finish_reason: str
    review_ticket_id: str
    panic: bool
    agreement: float
    hedged: bool
    idempotent_replay: bool
    def __init__(self, answer: _Optional[str] = ..., model_id: _Optional[str] = ..., rule: _Optional[str] = ..., strategy: _Optional[str] = ..., policy_version: _Optional[int] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ..., total_cost_micros: _Optional[int] = ..., total_latency_ms: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., degraded: _Optional[bool] = ..., cache_hit: _Optional[bool] = ..., escalations: _Optional[int] = ..., request_id: _Optional[str] = ..., finish_reason: _Optional[str] = ..., review_ticket_id: _Optional[str] = ..., panic: _Optional[bool] = ..., agreement: _Optional[float] = ..., hedged: _Optional[bool] = ..., idempotent_replay: _Optional[bool] = ...) -> None: ...

class PlanRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: RouteRequest
    def __init__(self, request: _Optional[_Union[RouteRequest, _Mapping]] = ...) -> None: ...

class PlanCandidate(_message.Message):
    __slots__ = ("model_id", "stage", "kept", "reason", "expected_cost_micros", "expected_latency_ms", "accept_probability", "quality_source", "score", "stage_acceptance", "outcomes_seen", "measured_latency_p95_ms", "min_score")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    KEPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    QUALITY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    STAGE_ACCEPTANCE_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_SEEN_FIELD_NUMBER: _ClassVar[int]
    MEASURED_LATENCY_P95_MS_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    stage: int
    kept: bool
    reason: str
    expected_cost_micros: int
    expected_latency_ms: int
    accept_probability: float
    quality_source: str
    score: float
    stage_acceptance: float
    outcomes_seen: int
    measured_latency_p95_ms: int
    min_score: float
    def __init__(self, model_id: _Optional[str] = ..., stage: _Optional[int] = ..., kept: _Optional[bool] = ..., reason: _Optional[str] = ..., expected_cost_micros: _Optional[int] = ..., expected_latency_ms: _Optional[int] = ..., accept_probability: _Optional[float] = ..., quality_source: _Optional[str] = ..., score: _Optional[float] = ..., stage_acceptance: _Optional[float] = ..., outcomes_seen: _Optional[int] = ..., measured_latency_p95_ms: _Optional[int] = ..., min_score: _Optional[float] = ...) -> None: ...

class PlanCascade(_message.Message):
    __slots__ = ("model_ids", "expected_cost_micros", "expected_latency_ms", "expected_quality", "chosen", "reason")
    MODEL_IDS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_QUALITY_FIELD_NUMBER: _ClassVar[int]
    CHOSEN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model_ids: _containers.RepeatedScalarFieldContainer[str]
    expected_cost_micros: int
    expected_latency_ms: int
    expected_quality: float
    chosen: bool
    reason: str
    def __init__(self, model_ids: _Optional[_Iterable[str]] = ..., expected_cost_micros: _Optional[int] = ..., expected_latency_ms: _Optional[int] = ..., expected_quality: _Optional[float] = ..., chosen: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class PlanResponse(_message.Message):
    __slots__ = ("rule", "strategy", "policy_version", "candidates", "expected_cost_micros", "expected_latency_ms", "estimated_prompt_tokens", "latency_slo_ms", "meets_slo", "selector", "expected_quality", "cascades", "quality_floor_met", "panic")
    RULE_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_SLO_MS_FIELD_NUMBER: _ClassVar[int]
    MEETS_SLO_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_QUALITY_FIELD_NUMBER: _ClassVar[int]
    CASCADES_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FLOOR_MET_FIELD_NUMBER: _ClassVar[int]
    PANIC_FIELD_NUMBER: _ClassVar[int]
    rule: str
    strategy: str
    policy_version: int
    candidates: _containers.RepeatedCompositeFieldContainer[PlanCandidate]
    expected_cost_micros: int
    expected_latency_ms: int
    estimated_prompt_tokens: int
    latency_slo_ms: int
    meets_slo: bool
    selector: str
    expected_quality: float
    cascades: _containers.RepeatedCompositeFieldContainer[PlanCascade]
    quality_floor_met: bool
    panic: bool
    def __init__(self, rule: _Optional[str] = ..., strategy: _Optional[str] = ..., policy_version: _Optional[int] = ..., candidates: _Optional[_Iterable[_Union[PlanCandidate, _Mapping]]] = ..., expected_cost_micros: _Optional[int] = ..., expected_latency_ms: _Optional[int] = ..., estimated_prompt_tokens: _Optional[int] = ..., latency_slo_ms: _Optional[int] = ..., meets_slo: _Optional[bool] = ..., selector: _Optional[str] = ..., expected_quality: _Optional[float] = ..., cascades: _Optional[_Iterable[_Union[PlanCascade, _Mapping]]] = ..., quality_floor_met: _Optional[bool] = ..., panic: _Optional[bool] = ...) -> None: ...

class RecordFeedbackRequest(_message.Message):
    __slots__ = ("request_id", "label", "source")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    label: float
    source: str
    def __init__(self, request_id: _Optional[str] = ..., label: _Optional[float] = ..., source: _Optional[str] = ...) -> None: ...

class RecordFeedbackResponse(_message.Message):
    __slots__ = ("request_id", "decisions", "source")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    decisions: int
    source: str
    def __init__(self, request_id: _Optional[str] = ..., decisions: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...
