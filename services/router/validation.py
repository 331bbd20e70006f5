"""Route()/Plan() request validation: every problem reported as a field violation."""

from __future__ import annotations

from services.router.plan import RouteInput
from services.router.providers.base import ChatTurn
from switchyard.router.v1 import router_pb2
from switchyard.runtime.errors import FieldViolation, InvalidArgument
from switchyard.tasks import DEFAULT_TASK_TYPE, TASK_TYPES
from switchyard.tokens import estimate_prompt_tokens

ROLES = frozenset({"system", "user", "assistant"})
RESPONSE_FORMATS = frozenset(router_pb2.ResponseFormat.values())
MAX_MESSAGES = 256
MAX_MESSAGE_CHARS = 100_000
MAX_TOTAL_CHARS = 400_000
MAX_OUTPUT_TOKENS = 100_000
DEFAULT_OUTPUT_TOKENS = 512
MAX_METADATA_ENTRIES = 64
MAX_KEY_CHARS = 128
# Bytes, not characters: the key is stored and compared as UTF-8.
MAX_IDEMPOTENCY_KEY_BYTES = 256


def route_input(request: router_pb2.RouteRequest) -> RouteInput:
    """Translate a RouteRequest into a RouteInput, or raise InvalidArgument."""
    problems: list[FieldViolation] = []
    messages = request.messages
    if not messages:
        problems.append(FieldViolation("messages", "at least one message is required"))
    elif len(messages) > MAX_MESSAGES:
        problems.append(FieldViolation("messages", f"at most {MAX_MESSAGES} messages"))
    total = 0
    for i, m in enumerate(messages[:MAX_MESSAGES]):
        if m.role not in ROLES:
            problems.append(
                FieldViolation(f"messages[{i}].role", f"must be one of {sorted(ROLES)}")
            )
        if not m.content:
            problems.append(FieldViolation(f"messages[{i}].content", "must not be empty"))
        elif len(m.content) > MAX_MESSAGE_CHARS:
            problems.append(
                FieldViolation(
                    f"messages[{i}].content",
                    f"{len(m.content)} characters; at most {MAX_MESSAGE_CHARS} per message",
                )
            )
        total += len(m.content)
    if total > MAX_TOTAL_CHARS:
        problems.append(
            FieldViolation("messages", f"{total} characters in all; at most {MAX_TOTAL_CHARS}")
        )
    if messages and not any(m.role == "user" for m in messages):
        problems.append(FieldViolation("messages", "at least one message must have role user"))
    task_type = request.task_type or DEFAULT_TASK_TYPE
    if task_type not in TASK_TYPES:
        problems.append(
            FieldViolation(
                "task_type", f"unknown task type {task_type!r}; known: {sorted(TASK_TYPES)}"
            )
        )
    if request.budget_micros < 0:
        problems.append(FieldViolation("budget_micros", "must not be negative"))
    if request.latency_slo_ms < 0:
        problems.append(FieldViolation("latency_slo_ms", "must not be negative"))
    if not 0 <= request.max_output_tokens <= MAX_OUTPUT_TOKENS:
        problems.append(
            FieldViolation("max_output_tokens", f"must be between 0 and {MAX_OUTPUT_TOKENS}")
        )
    if len(request.metadata) > MAX_METADATA_ENTRIES:
        problems.append(FieldViolation("metadata", f"at most {MAX_METADATA_ENTRIES} entries"))
    for key, value in request.metadata.items():
        if not key or len(key) > MAX_KEY_CHARS or len(value) > 1024:
            problems.append(
                FieldViolation(f"metadata[{key[:32]}]", "keys 1..128 and values up to 1024 chars")
            )
    key_bytes = len(request.idempotency_key.encode())
    if key_bytes > MAX_IDEMPOTENCY_KEY_BYTES:
        problems.append(
            FieldViolation(
                "idempotency_key",
                f"{key_bytes} bytes (UTF-8); at most {MAX_IDEMPOTENCY_KEY_BYTES}",
            )
        )
    if request.response_format not in RESPONSE_FORMATS:
        problems.append(FieldViolation("response_format", "unknown response format"))
    if problems:
        raise InvalidArgument(problems)
    turns = tuple(ChatTurn(m.role, m.content) for m in messages)
    return RouteInput(
        messages=turns,
        task_type=task_type,
        tenant=request.tenant,
        tier=request.tier,
        metadata=dict(request.metadata),
        feature_flags=frozenset(request.feature_flags),
        max_output_tokens=request.max_output_tokens or DEFAULT_OUTPUT_TOKENS,
        latency_slo_ms=request.latency_slo_ms,
        budget_micros=request.budget_micros,
        json_mode=request.response_format == router_pb2.RESPONSE_FORMAT_JSON_OBJECT,
        idempotency_key=request.idempotency_key,
        # Conservative (per script): the worst-case cost reserved against budgets.
        prompt_tokens=estimate_prompt_tokens([t.content for t in turns]),
    )
