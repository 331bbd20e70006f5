"""Feedback peers: which sockets count as routers, and what a relay answers, against real
gRPC servers on Unix sockets (each a router's RecordFeedback, reduced to its outcome)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest

from services.router.feedback_peers import RELAYED, FeedbackPeers, PeerUnavailable, relayed
from switchyard.router.v1 import router_pb2, router_pb2_grpc


class Peer(router_pb2_grpc.RouterServiceServicer):
    """Holds the decisions in `known`; answers `code` for every other id."""

    def __init__(self, known: set[str], code: grpc.StatusCode = grpc.StatusCode.NOT_FOUND):
        self.known = known
        self.code = code
        self.metadata: list[tuple[str, str]] = []

    async def RecordFeedback(self, request, context):
        self.metadata = [(k, v) for k, v in context.invocation_metadata()]
        if request.request_id in self.known:
            return router_pb2.RecordFeedbackResponse(
                request_id=request.request_id, decisions=1, source=request.source
            )
        await context.abort(self.code, "not here")


@asynccontextmanager
async def serving(path: Path, peer: Peer) -> AsyncIterator[Peer]:
    server = grpc.aio.server()
    router_pb2_grpc.add_RouterServiceServicer_to_server(peer, server)
    assert server.add_insecure_port(f"unix:{path}")
    await server.start()
    try:
        yield peer
    finally:
        await server.stop(0)


def stale_socket(path: Path) -> None:
    """The file a router that crashed leaves: bound once, nobody listening."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()


def feedback(request_id: str) -> router_pb2.RecordFeedbackRequest:
    return router_pb2.RecordFeedbackRequest(request_id=request_id, label=1.0, source="t")


async def test_peers_are_the_other_listening_sockets(tmp_path: Path) -> None:
    """Not this router's own socket, not a crashed router's file, not other files."""
    peers = FeedbackPeers("a", tmp_path)
    assert peers.prepare() == [f"unix:{tmp_path / 'a.sock'}"]
    stale_socket(tmp_path / "b.sock")
    (tmp_path / "notes.txt").write_text("x")
    async with serving(tmp_path / "c.sock", Peer(set())), serving(peers.own, Peer(set())):
        assert peers.others() == [f"unix:{tmp_path / 'c.sock'}"]
    await peers.close()
    assert not peers.own.exists()


async def test_a_relay_answers_with_the_holder_or_says_why_not(tmp_path: Path) -> None:
    """The peer holding the decision answers (with the caller's token and the relay
    mark, nothing else forwarded); none holding it: None; one that did not answer while
    none held it: PeerUnavailable."""
    peers = FeedbackPeers("a", tmp_path)
    peers.prepare()
    metadata = [("authorization", "Bearer t0k"), ("x-other", "dropped")]
    async with (
        serving(tmp_path / "b.sock", Peer({"r1"})) as holder,
        serving(tmp_path / "c.sock", Peer(set())),
    ):
        reply = await peers.relay(feedback("r1"), metadata, 5.0)
        assert reply is not None and reply.decisions == 1
        assert ("authorization", "Bearer t0k") in holder.metadata
        assert (RELAYED, "1") in holder.metadata and relayed(holder.metadata)
        assert not any(k == "x-other" for k, _ in holder.metadata)
        assert await peers.relay(feedback("r2"), metadata, None) is None
        async with serving(tmp_path / "d.sock", Peer(set(), grpc.StatusCode.UNAVAILABLE)):
            with pytest.raises(PeerUnavailable, match="UNAVAILABLE"):
                await peers.relay(feedback("r2"), metadata, 5.0)
            reply = await peers.relay(feedback("r1"), metadata, 5.0)
            assert reply is not None  # a holder's answer wins over a silent peer
    await peers.close()


async def test_no_peers_and_bad_directories(tmp_path: Path) -> None:
    """Alone in its directory a router relays nothing; a socket path over the kernel's
    limit is refused at start-up, naming it."""
    peers = FeedbackPeers("a", tmp_path / "peers")
    peers.prepare()
    assert (tmp_path / "peers").is_dir()
    assert await peers.relay(feedback("r1"), [], 1.0) is None
    with pytest.raises(ValueError, match="over 107 bytes"):
        FeedbackPeers("a", tmp_path / ("d" * 120)).prepare()
    await peers.close()


@asynccontextmanager
async def serving_tcp(peer: Peer) -> AsyncIterator[str]:
    server = grpc.aio.server()
    router_pb2_grpc.add_RouterServiceServicer_to_server(peer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


async def test_remote_peers_are_asked_over_tcp() -> None:
    """Routers on other hosts (`--feedback-peers`): the holder answers; an id nobody
    holds is None; while a peer is down, an id nobody else holds is UNAVAILABLE."""
    async with serving_tcp(Peer({"r1"})) as holder, serving_tcp(Peer(set())) as other:
        peers = FeedbackPeers("a", remote=[other, holder])
        assert peers.prepare() == []  # no directory: no socket to listen on
        got = await peers.relay(feedback("r1"), [("authorization", "Bearer t")], 1.0)
        assert got is not None and got.request_id == "r1"
        assert await peers.relay(feedback("r9"), [], 1.0) is None
        await peers.close()
        down = FeedbackPeers("a", remote=[other, closed_port()])
        with pytest.raises(PeerUnavailable):
            await down.relay(feedback("r9"), [], 1.0)
        await down.close()
