"""Anthropic Messages API: `endpoint` is the API base including `/v1`
(`https://api.anthropic.com/v1`, or the simulator's `http://127.0.0.1:8090/v1`);
the adapter POSTs `{endpoint}/messages`.

Chat turns are translated to the Messages shape: system turns become the separate
`system` prompt, consecutive turns of one role are merged (the API wants alternation),
and JSON mode, which the API lacks, becomes a system instruction.
"""

from __future__ import annotations

from typing import Any

from services.router.providers.base import (
    Completion,
    CompletionRequest,
    Outcome,
    request_headers,
)
from services.router.providers.h1 import HttpPool
from services.router.providers.http import (
    HttpReply,
    create_session,
    decode_json,
    error_detail,
    outcome_for_status,
    parse_retry_after,
    post_json,
)

ANTHROPIC_VERSION = "2023-06-01"
JSON_INSTRUCTION = "Respond with a single valid JSON object and nothing else."

# Error `type` -> outcome, for errors reported inside a 200 (status decides otherwise).
_ERROR_TYPES = {
    "rate_limit_error": Outcome.RATE_LIMITED,
    "overloaded_error": Outcome.SERVER_ERROR,
    "api_error": Outcome.SERVER_ERROR,
    "timeout_error": Outcome.TIMEOUT,
}

_FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


class AnthropicProvider:
    def __init__(
        self,
        endpoint: str,
        *,
        api_key: str | None,
        session: HttpPool | None = None,
        anthropic_version: str = ANTHROPIC_VERSION,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._url = f"{self.endpoint}/messages"
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "anthropic-version": anthropic_version,
        }
        if api_key:
            self._headers["x-api-key"] = api_key
        self._session = session
        self._owns_session = session is None

    async def complete(self, request: CompletionRequest) -> Completion:
        if self._session is None:
            self._session = create_session()
        reply = await post_json(
            self._session,
            self._url,
            build_payload(request),
            request_headers(self._headers, request),
            request.timeout_s,
        )
        if isinstance(reply, Completion):
            return reply
        return parse_reply(reply)

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None


def build_payload(request: CompletionRequest) -> dict[str, Any]:
    system: list[str] = []
    turns: list[dict[str, str]] = []
    for turn in request.messages:
        if turn.role in ("system", "developer"):
            system.append(turn.content)
            continue
        role = "assistant" if turn.role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + turn.content
        else:
            turns.append({"role": role, "content": turn.content})
    if request.json_mode:
        system.append(JSON_INSTRUCTION)
    payload: dict[str, Any] = {
        "model": request.upstream_model,
        "max_tokens": request.max_tokens,
        "messages": turns,
        # The Messages API accepts 0..1 where OpenAI-style callers may send up to 2.
        "temperature": min(max(request.temperature, 0.0), 1.0),
    }
    if system:
        payload["system"] = "\n\n".join(system)
    if request.stop:
        payload["stop_sequences"] = list(request.stop)
    return payload


def parse_reply(reply: HttpReply) -> Completion:
    """Map one HTTP reply to a Completion; never raises on upstream garbage."""
    parsed = decode_json(reply.body)
    if reply.status != 200:
        return Completion(
            outcome_for_status(reply.status),
            latency_s=reply.latency_s,
            detail=error_detail(
                reply.status, parsed, reply.body, message_path=("error", "message")
            ),
            retry_after_s=(
                parse_retry_after(reply.headers) if reply.status in (429, 503, 529) else None
            ),
        )
    if not isinstance(parsed, dict):
        return _malformed(reply, "body is not a JSON object")
    if parsed.get("type") == "error" or isinstance(parsed.get("error"), dict):
        error = parsed.get("error") if isinstance(parsed.get("error"), dict) else {}
        kind = error.get("type", "unknown")
        return Completion(
            _ERROR_TYPES.get(kind, Outcome.SERVER_ERROR),
            latency_s=reply.latency_s,
            detail=f"error in 200 response: {kind}: {error.get('message', '')}",
        )
    content = parsed.get("content")
    if not isinstance(content, list):
        return _malformed(reply, "content missing")
    texts = []
    for block in content:
        if not isinstance(block, dict):
            return _malformed(reply, "content block is not an object")
        if block.get("type") == "text":
            text = block.get("text")
            if not isinstance(text, str):
                return _malformed(reply, "text block without text")
            texts.append(text)
    stop_reason = parsed.get("stop_reason") or ""
    usage = parsed.get("usage") if isinstance(parsed.get("usage"), dict) else {}
    input_tokens = sum(
        usage.get(key) or 0
        for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        if isinstance(usage.get(key) or 0, int)
    )
    output_tokens = usage.get("output_tokens")
    truncated = stop_reason == "max_tokens"
    return Completion(
        Outcome.TRUNCATED if truncated else Outcome.OK,
        text="".join(texts),
        # OpenAI vocabulary, so execution and the verifier see one set of reasons.
        finish_reason=_FINISH_REASONS.get(stop_reason, stop_reason),
        input_tokens=input_tokens,
        output_tokens=output_tokens if isinstance(output_tokens, int) else 0,
        latency_s=reply.latency_s,
        detail="stopped at max_tokens" if truncated else "",
        extra={"stop_reason": stop_reason},
    )


def _malformed(reply: HttpReply, why: str) -> Completion:
    excerpt = reply.body[:120].decode("utf-8", "replace")
    return Completion(Outcome.MALFORMED, latency_s=reply.latency_s, detail=f"{why}: {excerpt!r}")
