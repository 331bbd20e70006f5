"""OpenAI-compatible chat completions: OpenAI, OpenRouter, vLLM, Ollama, llama.cpp server,
and the Switchyard simulator. `endpoint` is the API base including its version path,
e.g. `http://127.0.0.1:8090/v1`; the adapter POSTs `{endpoint}/chat/completions`.
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
from switchyard.tokens import estimate_prompt_tokens, estimate_tokens


class OpenAICompatibleProvider:
    """One upstream base URL; calls share a pooled keep-alive session."""

    def __init__(
        self,
        endpoint: str,
        *,
        api_key: str | None,
        session: HttpPool | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._url = f"{self.endpoint}/chat/completions"
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._session = session
        # A session passed in belongs to the caller (shared by many providers).
        self._owns_session = session is None

    def _payload(self, request: CompletionRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": request.upstream_model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.json_mode:
            payload["response_format"] = {"type": "json_object"}
        if request.stop:
            payload["stop"] = list(request.stop)
        return payload

    async def complete(self, request: CompletionRequest) -> Completion:
        if self._session is None:
            self._session = create_session()
        reply = await post_json(
            self._session,
            self._url,
            self._payload(request),
            request_headers(self._headers, request),
            request.timeout_s,
        )
        if isinstance(reply, Completion):
            return reply
        return parse_reply(reply, request)

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None


def parse_reply(reply: HttpReply, request: CompletionRequest) -> Completion:
    """Map one HTTP reply to a Completion; never raises on upstream garbage."""
    parsed = decode_json(reply.body)
    if reply.status != 200:
        return Completion(
            outcome_for_status(reply.status),
            latency_s=reply.latency_s,
            detail=error_detail(
                reply.status, parsed, reply.body, message_path=("error", "message")
            ),
            retry_after_s=parse_retry_after(reply.headers) if reply.status in (429, 503) else None,
        )
    if not isinstance(parsed, dict):
        return _malformed(reply, "body is not a JSON object")
    error = parsed.get("error")
    if error:
        # OpenRouter and some proxies report upstream failures inside a 200.
        return _error_in_200(reply, error)
    choices = parsed.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return _malformed(reply, "no choices")
    choice = choices[0]
    message = choice.get("message")
    text = message.get("content") if isinstance(message, dict) else None
    if not isinstance(text, str):
        return _malformed(reply, "choices[0].message.content missing")
    finish = choice.get("finish_reason") or ""
    input_tokens, output_tokens, estimated = _usage(parsed.get("usage"), request, text)
    return Completion(
        Outcome.TRUNCATED if finish == "length" else Outcome.OK,
        text=text,
        finish_reason=finish,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        latency_s=reply.latency_s,
        detail="stopped at max_tokens" if finish == "length" else "",
        extra={"usage_estimated": "true"} if estimated else {},
    )


def _usage(usage: Any, request: CompletionRequest, text: str) -> tuple[int, int, bool]:
    """(input, output, estimated): servers that omit usage get the router's conservative
    per-script estimate, so an answer is never billed below what it likely cost."""
    if isinstance(usage, dict):
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if isinstance(prompt, int) and isinstance(completion, int):
            return prompt, completion, False
    prompt_tokens = estimate_prompt_tokens([m.content for m in request.messages])
    return prompt_tokens, estimate_tokens(text), True


def _malformed(reply: HttpReply, why: str) -> Completion:
    excerpt = reply.body[:120].decode("utf-8", "replace")
    return Completion(Outcome.MALFORMED, latency_s=reply.latency_s, detail=f"{why}: {excerpt!r}")


def _error_in_200(reply: HttpReply, error: Any) -> Completion:
    message = error.get("message") if isinstance(error, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    detail = f"error in 200 response: {message or error}" + (f" (code {code})" if code else "")
    outcome = Outcome.SERVER_ERROR
    if isinstance(code, int) and 400 <= code < 600:
        outcome = outcome_for_status(code)
    return Completion(outcome, latency_s=reply.latency_s, detail=detail)
