"""Feedback for a request another router answered: routers that share a port on one
host each keep their own decision log, so `RecordFeedback` may reach a router that never
saw the request id. With `--peer-dir`, every router also listens on a Unix socket in that
directory, named by its router id, and a router that does not know an id asks the others
there (one hop: a relayed call carries RELAYED and is never passed on).

A peer's answer is the caller's: the relayed call carries the caller's metadata (its
bearer token, so the owning router applies the same tenant rule) and at most the
caller's remaining deadline. The first peer that holds the decision answers; when none
does, the id is NOT_FOUND; when one that might hold it did not answer (busy, its log
restarting), UNAVAILABLE, as feedback is safe to retry (a source's later label replaces
its earlier one). A socket whose router is gone (the file is left after a crash: the
connection is refused) is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence
from pathlib import Path

import grpc
import structlog

from switchyard.router.v1 import router_pb2, router_pb2_grpc

log = structlog.get_logger(__name__)

RELAYED = "x-switchyard-feedback-relayed"
SOCKET_SUFFIX = ".sock"
# The longest a relayed call may take when the caller set no deadline.
RELAY_TIMEOUT_S = 2.0
# Unix socket paths are limited to 107 bytes (sun_path) on Linux.
MAX_SOCKET_PATH = 107


class PeerUnavailable(Exception):
    """A peer that may hold the decision did not answer."""


class FeedbackPeers:
    def __init__(self, directory: Path, router_id: str) -> None:
        self.directory = directory
        self.own = directory / f"{router_id}{SOCKET_SUFFIX}"
        self._channels: dict[Path, grpc.aio.Channel] = {}

    def prepare(self) -> str:
        """Create the directory, drop a stale socket of this router's id, and return the
        address this router listens on (`unix:PATH`)."""
        if len(str(self.own).encode()) > MAX_SOCKET_PATH:
            raise ValueError(f"peer socket path {self.own} is over {MAX_SOCKET_PATH} bytes")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.own.unlink(missing_ok=True)
        return f"unix:{self.own}"

    def others(self) -> list[Path]:
        """The other routers' sockets that accept a connection now."""
        return [
            path
            for path in sorted(self.directory.glob(f"*{SOCKET_SUFFIX}"))
            if path != self.own and _accepts(path)
        ]

    async def relay(
        self,
        request: router_pb2.RecordFeedbackRequest,
        metadata: Sequence[tuple[str, str | bytes]],
        timeout_s: float | None,
    ) -> router_pb2.RecordFeedbackResponse | None:
        """The first peer's answer for a decision it holds; None when no peer holds it.
        PeerUnavailable when none holds it but one did not answer."""
        peers = self.others()
        if not peers:
            return None
        timeout = min(timeout_s, RELAY_TIMEOUT_S) if timeout_s else RELAY_TIMEOUT_S
        forwarded = [(k, v) for k, v in metadata if k.lower() == "authorization"]
        forwarded.append((RELAYED, "1"))
        calls = [
            asyncio.ensure_future(
                router_pb2_grpc.RouterServiceStub(self._channel(path)).RecordFeedback(
                    request, metadata=forwarded, timeout=timeout
                )
            )
            for path in peers
        ]
        unanswered: list[str] = []
        try:
            for finished in asyncio.as_completed(calls):
                try:
                    return await finished
                except grpc.aio.AioRpcError as exc:
                    if exc.code() != grpc.StatusCode.NOT_FOUND:
                        unanswered.append(exc.code().name)
        finally:
            for call in calls:
                call.cancel()
        if unanswered:
            log.warning(
                "feedback.peer_unavailable", request_id=request.request_id, codes=unanswered
            )
            raise PeerUnavailable(", ".join(unanswered))
        return None

    def _channel(self, path: Path) -> grpc.aio.Channel:
        channel = self._channels.get(path)
        if channel is None:
            channel = self._channels[path] = grpc.aio.insecure_channel(f"unix:{path}")
        return channel

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        with contextlib.suppress(OSError):
            self.own.unlink()


def relayed(metadata: Sequence[tuple[str, str | bytes]] | None) -> bool:
    return any(key == RELAYED for key, _ in metadata or ())


def _accepts(path: Path) -> bool:
    """Whether a router listens on `path`: a crashed one leaves the file behind."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(0.2)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
