"""Wire formats: OpenAI chat completions and Anthropic Messages, to and from `ChatCall`.

Request parsing is strict enough that a client bug surfaces as a 400 naming the field
(as the real APIs do) and lenient where real servers are (content parts, extra keys).
"""

from __future__ import annotations

import itertools
import math
import os
import time
from typing import Any

import orjson

from services.simulator.engine import ChatCall, SimulatedReply

_ids = itertools.count(1)
_ID_PREFIX = os.urandom(4).hex()

OPENAI_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
ANTHROPIC_ROLES = frozenset({"user", "assistant"})


class WireError(Exception):
    """A request the real API would refuse: HTTP status, message and offending field."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


def next_id(prefix: str) -> str:
    return f"{prefix}{_ID_PREFIX}{next(_ids):08x}"


def _text_of(content: Any, field: str) -> str:
    """Message content as text: a string, or a list of text parts/blocks."""
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or not isinstance(part.get("text", ""), str):
                raise WireError(400, f"{field} parts must be objects with a text field", field)
            texts.append(part.get("text", ""))
        return "".join(texts)
    raise WireError(400, f"{field} must be a string or a list of content parts", field)


def _messages(raw: Any, roles: frozenset[str]) -> list[tuple[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise WireError(400, "messages must be a non-empty array", "messages")
    out = []
    for i, message in enumerate(raw):
        if not isinstance(message, dict):
            raise WireError(400, f"messages[{i}] must be an object", f"messages[{i}]")
        role = message.get("role")
        if role not in roles:
            raise WireError(
                400, f"messages[{i}].role must be one of {sorted(roles)}", f"messages[{i}].role"
            )
        out.append((role, _text_of(message.get("content"), f"messages[{i}].content")))
    return out


def _positive_int(body: dict[str, Any], name: str, *, required: bool = False) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise WireError(400, f"{name}: field required", name)
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise WireError(400, f"{name} must be a positive integer", name)
    return value


def _temperature(body: dict[str, Any], hi: float) -> None:
    value = body.get("temperature")
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= hi:
        raise WireError(400, f"temperature must be a number in [0, {hi:g}]", "temperature")


def _stops(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return tuple(value)
    raise WireError(400, f"{name} must be a string or an array of strings", name)


def _model(body: Any) -> str:
    if not isinstance(body, dict):
        raise WireError(400, "request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise WireError(400, "model: field required", "model")
    return model


# --- OpenAI chat completions ----------------------------------------------------------


def parse_openai(body: Any) -> ChatCall:
    model = _model(body)
    messages = _messages(body.get("messages"), OPENAI_ROLES)
    max_tokens = _positive_int(body, "max_completion_tokens") or _positive_int(body, "max_tokens")
    _temperature(body, 2.0)
    response_format = body.get("response_format")
    json_mode = False
    if response_format is not None:
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind not in ("text", "json_object", "json_schema"):
            raise WireError(
                400,
                "response_format.type must be one of text, json_object, json_schema",
                "response_format",
            )
        json_mode = kind != "text"
    return ChatCall(
        model=model,
        messages=tuple(messages),
        max_tokens=max_tokens,
        json_mode=json_mode,
        stop=_stops(body.get("stop"), "stop"),
    )


def openai_completion(reply: SimulatedReply, model: str) -> dict[str, Any]:
    return {
        "id": next_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": reply.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        },
    }


_OPENAI_ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
}


def openai_error(
    status: int, message: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    kind = _OPENAI_ERROR_TYPES.get(status) or (
        "server_error" if status >= 500 else "invalid_request_error"
    )
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


OPENAI_MALFORMED = (
    (b'{"id": "chatcmpl-cut", "object": "chat.completion", "choices": [{"index": 0, "mess', "json"),
    (b'{"id": "chatcmpl-nochoices", "object": "chat.completion", "model": "x"}', "json"),
    (b'{"id": "chatcmpl-nocontent", "choices": [{"index": 0, "finish_reason": "stop"}]}', "json"),
    (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "html"),
)


# --- Anthropic Messages ---------------------------------------------------------------


def parse_anthropic(body: Any) -> ChatCall:
    model = _model(body)
    max_tokens = _positive_int(body, "max_tokens", required=True)
    messages = _messages(body.get("messages"), ANTHROPIC_ROLES)
    system = body.get("system")
    if system is not None:
        messages.insert(0, ("system", _text_of(system, "system")))
    _temperature(body, 1.0)
    return ChatCall(
        model=model,
        messages=tuple(messages),
        max_tokens=max_tokens,
        stop=_stops(body.get("stop_sequences"), "stop_sequences"),
    )


def anthropic_message(reply: SimulatedReply, model: str) -> dict[str, Any]:
    if reply.finish_reason == "length":
        stop_reason = "max_tokens"
    elif reply.stop_sequence is not None:
        stop_reason = "stop_sequence"
    else:
        stop_reason = "end_turn"
    return {
        "id": next_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": reply.text}] if reply.text else [],
        "stop_reason": stop_reason,
        "stop_sequence": reply.stop_sequence,
        "usage": {"input_tokens": reply.prompt_tokens, "output_tokens": reply.completion_tokens},
    }


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    kind = _ANTHROPIC_ERROR_TYPES.get(status) or (
        "api_error" if status >= 500 else "invalid_request_error"
    )
    return {"type": "error", "error": {"type": kind, "message": message}}


ANTHROPIC_MALFORMED = (
    (b'{"id": "msg_cut", "type": "message", "content": [{"type": "te', "json"),
    (b'{"id": "msg_nocontent", "type": "message", "stop_reason": "end_turn"}', "json"),
    (b'{"id": "msg_badcontent", "type": "message", "content": "oops"}', "json"),
    (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "html"),
)


def retry_after_headers(retry_after_s: float | None) -> dict[str, str]:
    """RFC 9110 Retry-After (whole seconds) plus the exact value in milliseconds."""
    if retry_after_s is None:
        return {}
    return {
        "Retry-After": str(math.ceil(retry_after_s)),
        "retry-after-ms": str(round(retry_after_s * 1000)),
    }


def dumps(payload: Any) -> bytes:
    # orjson: the simulator shares the bench machine's cores with the router under test.
    return orjson.dumps(payload)
