"""Route() request validation: each bad field gets its own violation; good input converts."""

from __future__ import annotations

import pytest

from services.router.validation import MAX_MESSAGE_CHARS, route_input
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
    assert route.prompt_tokens == 3
    assert route.json_mode
    assert route.prompt == "hello world!"
