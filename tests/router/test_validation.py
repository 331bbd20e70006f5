"""Route() request validation: each bad field gets its own violation; good input converts."""

from __future__ import annotations

import pytest

from services.router.validation import (
    MAX_IDEMPOTENCY_KEY_BYTES,
    MAX_MESSAGE_CHARS,
    route_input,
)
from switchyard.router.v1 import router_pb2
from switchyard.runtime.errors import InvalidArgument


def user(text: str) -> router_pb2.ChatMessage:
    return router_pb2.ChatMessage(role="user", content=text)


def violations(request: router_pb2.RouteRequest) -> set[str]:
    with pytest.raises(InvalidArgument) as info:
        route_input(request)
    return {v.field for v in info.value.violations}


def test_no_messages() -> None:
    """An empty message list names the messages field."""
    assert violations(router_pb2.RouteRequest()) == {"messages"}


def test_unknown_task_type_negative_budget_and_oversized_message_together() -> None:
    """Several problems in one request are all reported, each naming its field."""
    request = router_pb2.RouteRequest(
        messages=[user("x" * (MAX_MESSAGE_CHARS + 1))], task_type="astrology", budget_micros=-1
    )
    assert violations(request) == {"messages[0].content", "task_type", "budget_micros"}


def test_bad_role_and_missing_user_turn() -> None:
    """Roles are system/user/assistant, and some turn must come from the user."""
    request = router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="robot", content="hi")])
    assert violations(request) == {"messages[0].role", "messages"}


def test_valid_request_converts_with_defaults() -> None:
    """Empty task type means chat; 0 max tokens means the default; tokens are estimated."""
    route = route_input(
        router_pb2.RouteRequest(
            messages=[user("hello world!")],
            response_format=router_pb2.RESPONSE_FORMAT_JSON_OBJECT,
        )
    )
    assert route.task_type == "chat"
    assert route.max_output_tokens == 512
    # 12 characters (~4 tokens) + the message's role markers + reply priming.
    assert route.prompt_tokens == 4 + 4 + 3
    assert route.json_mode
    assert route.prompt == "hello world!"


def test_idempotency_key_limit_is_256_bytes_of_utf8() -> None:
    """A key of 256 bytes passes; one byte more, or 86 three-byte characters (258
    bytes, 86 characters), is INVALID_ARGUMENT naming idempotency_key."""
    ok = route_input(
        router_pb2.RouteRequest(
            messages=[user("hi")], idempotency_key="k" * MAX_IDEMPOTENCY_KEY_BYTES
        )
    )
    assert len(ok.idempotency_key) == 256
    for key in ("k" * (MAX_IDEMPOTENCY_KEY_BYTES + 1), "鍵" * 86):
        request = router_pb2.RouteRequest(messages=[user("hi")], idempotency_key=key)
        assert violations(request) == {"idempotency_key"}


def test_japanese_prompt_tokens_are_counted_per_character() -> None:
    """A Japanese prompt is estimated at ~1 token per character, not 4 characters per
    token: the figure budgets reserve against."""
    route = route_input(router_pb2.RouteRequest(messages=[user("日本語" * 100)]))
    assert route.prompt_tokens >= 300
