"""What the HTTP adapters share: the connection pool, status and exception mapping,
Retry-After parsing, and one timed POST that turns transport failures into outcomes
(and, when tracing, carries the request's trace to the provider).
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry.trace import SpanKind, StatusCode

from services.router.providers.base import Completion, Outcome
from services.router.providers.h1 import HttpPool, HttpProtocolError, Target, request_head
from switchyard.runtime import tracing

# Router processes run thousands of concurrent attempts; a small per-origin limit
# would queue them behind each other.
DEFAULT_CONNECTION_LIMIT = 2048


def create_session(*, limit: int = DEFAULT_CONNECTION_LIMIT) -> HttpPool:
    """A keep-alive connection pool for provider calls; share one per process.

    Timeouts are per attempt (`CompletionRequest.timeout_s`), so the pool has none.
    """
    return HttpPool(limit_per_origin=limit)


def outcome_for_status(status: int) -> Outcome:
    if status == 429:
        return Outcome.RATE_LIMITED
    # 408 is the server saying it gave up waiting; worth retrying like a timeout.
    if status == 408:
        return Outcome.TIMEOUT
    if status >= 500:
        return Outcome.SERVER_ERROR
    return Outcome.CLIENT_ERROR


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait: `retry-after-ms`, else Retry-After as seconds or an HTTP date."""
    headers = {name.lower(): value for name, value in headers.items()}
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            value = float(ms) / 1000.0
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(0.0, seconds)
    return seconds if seconds >= 0 else None


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    body: bytes
    headers: Mapping[str, str]
    latency_s: float


_targets: dict[str, Target] = {}


def _target(url: str) -> Target:
    target = _targets.get(url)
    if target is None:
        target = _targets[url] = Target.parse(url)
    return target


async def post_json(
    session: HttpPool,
    url: str,
    payload: Mapping[str, Any],
    headers: Mapping[str, str],
    timeout_s: float,
) -> HttpReply | Completion:
    """POST and read the whole body within timeout_s; a Completion when transport failed.

    Inside a traced request the POST is a client span whose `traceparent` header the
    provider receives (the same header for every adapter and upstream).
    """
    if tracing.active():
        return await _traced_post(session, url, payload, headers, timeout_s)
    return await _post(session, url, payload, headers, timeout_s)


async def _traced_post(
    session: HttpPool,
    url: str,
    payload: Mapping[str, Any],
    headers: Mapping[str, str],
    timeout_s: float,
) -> HttpReply | Completion:
    try:
        target: Target | None = _target(url)
    except ValueError:
        target = None  # _post reports the bad URL as the attempt's outcome
    attributes: dict[str, str | int] = {"http.request.method": "POST"}
    if target is not None:
        attributes |= {
            "server.address": target.origin.host,
            "server.port": target.origin.port,
            "url.path": target.path,
        }
    with tracing.span("provider.http", attributes, kind=SpanKind.CLIENT) as current:
        reply = await _post(session, url, payload, tracing.http_headers(headers), timeout_s)
        if current is not None:
            if isinstance(reply, HttpReply):
                current.set_attribute("http.response.status_code", reply.status)
                if reply.status >= 400:
                    current.set_status(StatusCode.ERROR, f"HTTP {reply.status}")
            else:
                current.set_attribute("error.type", reply.outcome.value)
                current.set_status(StatusCode.ERROR, reply.detail)
    return reply


async def _post(
    session: HttpPool,
    url: str,
    payload: Mapping[str, Any],
    headers: Mapping[str, str],
    timeout_s: float,
) -> HttpReply | Completion:
    data = orjson.dumps(payload)
    started = time.perf_counter()
    try:
        target = _target(url)
        async with asyncio.timeout(timeout_s):
            response = await session.post(target, request_head(target, headers, len(data)), data)
    except TimeoutError:
        return Completion(
            Outcome.TIMEOUT,
            latency_s=time.perf_counter() - started,
            detail=f"no complete response within {timeout_s:g}s",
        )
    except ValueError as exc:
        return Completion(
            Outcome.CLIENT_ERROR,
            latency_s=time.perf_counter() - started,
            detail=f"invalid endpoint URL: {exc}",
        )
    except HttpProtocolError as exc:
        return Completion(
            Outcome.MALFORMED, latency_s=time.perf_counter() - started, detail=str(exc)
        )
    except OSError as exc:
        # Refused, reset, closed mid-reply: the transport failed.
        return Completion(
            Outcome.CONNECTION_ERROR,
            latency_s=time.perf_counter() - started,
            detail=f"{type(exc).__name__}: {exc}",
        )
    return HttpReply(
        response.status, response.body, response.headers, time.perf_counter() - started
    )


def decode_json(body: bytes) -> Any:
    """The parsed body, or None when it is not JSON."""
    try:
        return orjson.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def body_excerpt(body: bytes, limit: int = 200) -> str:
    return body[:limit].decode("utf-8", "replace")


def error_detail(status: int, parsed: Any, body: bytes, *, message_path: tuple[str, ...]) -> str:
    """`HTTP 503: <upstream message>` from a JSON error body, else a body excerpt."""
    node = parsed
    for key in message_path:
        node = node.get(key) if isinstance(node, dict) else None
    message = node if isinstance(node, str) else body_excerpt(body)
    return f"HTTP {status}: {message}" if message else f"HTTP {status}"
