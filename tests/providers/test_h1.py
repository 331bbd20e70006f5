"""The pooled HTTP/1.1 client against raw servers that send exact bytes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from services.router.providers.h1 import HttpPool, HttpProtocolError, Target, request_head

Handler = Callable[[bytes], bytes | None]


class RawServer:
    """Answers each request with handler(request bytes); None closes the connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(
                    next(
                        line.split(b":")[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                reply = self.handler(request)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def raw() -> AsyncIterator[Callable[[Handler], asyncio.Future]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> tuple[RawServer, Target]:
        state = RawServer(handler)
        server = await asyncio.start_server(state.serve, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return state, Target.parse(f"http://127.0.0.1:{port}/v1/chat/completions")

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def post(pool: HttpPool, target: Target, body: bytes = b'{"a":1}'):
    return await pool.post(
        target, request_head(target, {"Authorization": "Bearer k"}, len(body)), body
    )


async def test_request_bytes_and_keep_alive_reuse(raw) -> None:
    """Three calls go over one connection; the request carries host, length and auth once."""
    server, target = await raw(lambda _: ok(b'{"ok":true}'))
    pool = HttpPool()
    for _ in range(3):
        reply = await post(pool, target)
        assert reply.status == 200 and reply.body == b'{"ok":true}'
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert first.count(b"Content-Type") == 1 and b"Authorization: Bearer k" in first
    await pool.close()


async def test_chunked_body_is_reassembled(raw) -> None:
    """A chunked reply (as many real providers send) arrives whole."""
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nRetry-After: 3\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    _, target = await raw(lambda _: chunked)
    pool = HttpPool()
    reply = await post(pool, target)
    assert reply.body == b"hello world"
    assert reply.headers["retry-after"] == "3"
    await pool.close()


async def test_connection_close_is_honoured(raw) -> None:
    """`Connection: close` replies are not reused: each call opens a new connection."""
    server, target = await raw(lambda _: ok(b"{}", b"Connection: close\r\n"))
    pool = HttpPool()
    for _ in range(2):
        assert (await post(pool, target)).status == 200
    assert server.connections == 2
    await pool.close()


async def test_peer_closing_mid_request_is_a_connection_error(raw) -> None:
    """A server that hangs up without answering raises ConnectionError, not a hang."""
    _, target = await raw(lambda _: None)
    pool = HttpPool()
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(post(pool, target), 5)
    await pool.close()


async def test_garbage_reply_is_a_protocol_error(raw) -> None:
    """Bytes that are not HTTP raise HttpProtocolError."""
    _, target = await raw(lambda _: b"SMTP ready\r\n\r\n")
    pool = HttpPool()
    with pytest.raises(HttpProtocolError):
        await asyncio.wait_for(post(pool, target), 5)
    await pool.close()


async def test_timed_out_call_does_not_poison_the_pool(raw) -> None:
    """A call cut off by its timeout closes its connection, so the late reply can never be
    read as the answer to the next call, which gets a fresh connection."""
    calls = iter([b"", ok(b'{"n":2}')])  # the first request is never answered
    server, target = await raw(lambda _: next(calls))
    pool = HttpPool()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(post(pool, target), 0.2)
    reply = await asyncio.wait_for(post(pool, target), 5)
    assert reply.body == b'{"n":2}'
    assert server.connections == 2
    await pool.close()


def test_target_parsing() -> None:
    """Default ports are implied; explicit ones go in the Host header; bad URLs raise."""
    t = Target.parse("https://api.example.com/v1/messages?x=1")
    assert (t.origin.port, t.origin.tls, t.path, t.host_header) == (
        443,
        True,
        "/v1/messages?x=1",
        "api.example.com",
    )
    assert Target.parse("http://h:8090/v1").host_header == "h:8090"
    with pytest.raises(ValueError):
        Target.parse("ftp://h/x")
