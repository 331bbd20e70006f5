"""A pooled HTTP/1.1 client for provider calls: keep-alive, TLS, llhttp parsing.

Why not aiohttp's ClientSession: on the router's hot path it cost ~170 µs of CPU per
call (request/response objects, header multidicts, tracing hooks), a third of a
Route(). Provider calls need one thing, a POST with a JSON body and the whole reply
read, so this client builds the request bytes directly, parses replies with llhttp
(httptools: chunked and content-length bodies, as real providers send them) and
reuses connections.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

# Servers close idle keep-alive connections (uvicorn after 5 s, nginx 75 s); dropping
# ours first means a reused connection is rarely a dead one.
IDLE_TIMEOUT_S = 4.0
MAX_BODY_BYTES = 64 * 1024 * 1024


class HttpProtocolError(Exception):
    """The peer sent something that is not HTTP/1.1."""


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    @property
    def tls(self) -> bool:
        return self.scheme == "https"


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed URL: where to connect and what to put on the request line."""

    origin: Origin
    path: str
    host_header: str

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        default = port == (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.hostname if default else f"{parts.hostname}:{port}"
        return cls(Origin(parts.scheme, parts.hostname, port), path, host)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Response] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the connection is unusable
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpProtocolError(f"invalid HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionResetError(f"connection closed by peer{f': {exc}' if exc else ''}"))

    # -- llhttp callbacks -----------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_BODY_BYTES:
            self._fail(HttpProtocolError(f"response body over {MAX_BODY_BYTES} bytes"))
            self.close()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        waiter = self._waiter
        self._waiter = None
        if not self._parser.should_keep_alive():
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(
                Response(self._parser.get_status_code(), self._headers, b"".join(self._body))
            )

    # -- use ------------------------------------------------------------------------

    def send(self, request: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None and self._waiter is None
        self._headers = {}
        self._body = []
        self._size = 0
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._waiter

    def _fail(self, exc: Exception) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HttpPool:
    """Keep-alive connections per origin, shared by every provider of a router."""

    def __init__(self, *, limit_per_origin: int = 1024, idle_timeout_s: float = IDLE_TIMEOUT_S):
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._slots: dict[Origin, asyncio.Semaphore] = {}
        self._limit = limit_per_origin
        self._idle_timeout_s = idle_timeout_s
        self._tls = ssl.create_default_context()
        self.closed = False

    async def _connect(self, origin: Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            _Connection,
            origin.host,
            origin.port,
            ssl=self._tls if origin.tls else None,
            server_hostname=origin.host if origin.tls else None,
        )
        return connection

    def _reusable(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # most recently used: the likeliest to be alive
            if not connection.closed and now - connection.idle_since < self._idle_timeout_s:
                return connection
            connection.close()
        return None

    async def post(self, target: Target, head: bytes, body: bytes) -> Response:
        """Send `head` (request line and headers, ending in a blank line) and `body`.

        Raises OSError/ConnectionError when the transport fails, HttpProtocolError on
        a reply that is not HTTP. Callers bound the time with asyncio.timeout; a call
        cancelled mid-flight closes its connection rather than reusing it.
        """
        if self.closed:
            raise ConnectionError("the HTTP pool is closed")
        origin = target.origin
        slots = self._slots.get(origin)
        if slots is None:
            slots = self._slots[origin] = asyncio.Semaphore(self._limit)
        async with slots:
            connection = self._reusable(origin) or await self._connect(origin)
            try:
                response = await connection.send(head + body)
            except BaseException:
                connection.close()
                raise
            if not connection.closed:
                connection.idle_since = time.monotonic()
                self._idle.setdefault(origin, deque()).append(connection)
            return response

    async def close(self) -> None:
        self.closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


# Set by request_head itself; a caller's value for these would duplicate them.
_FIXED_HEADERS = frozenset(
    {"host", "content-type", "content-length", "connection", "accept-encoding"}
)


def request_head(target: Target, headers: Mapping[str, str], content_length: int) -> bytes:
    """The request line and headers of a JSON POST."""
    lines = [
        f"POST {target.path} HTTP/1.1",
        f"Host: {target.host_header}",
        "Content-Type: application/json",
        "Accept-Encoding: identity",
        "Connection: keep-alive",
        f"Content-Length: {content_length}",
        *(f"{k}: {v}" for k, v in headers.items() if k.lower() not in _FIXED_HEADERS),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
