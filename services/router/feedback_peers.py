"""Feedback for a request another router answered: every router keeps its own decision
log, so `RecordFeedback` may reach a router that never saw the request id. A router that
does not know an id asks its peers (one hop: a relayed call carries RELAYED and is never
passed on):

- on its host, with `--peer-dir`: every router also listens on a Unix socket in that
  directory, named by its router id, and asks the others there;
- on other hosts, with `--feedback-peers host:port,...`: those routers' service ports,
  over TLS when `--peer-tls-ca-file` is set (a list may name this router too: the
  relayed call it gets is answered from its own log, and goes no further).

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
from switchyard.runtime.tls import TlsConfig, open_upstream_channel

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
    def __init__(
        self,
        router_id: str,
        directory: Path | None = None,
        *,
        remote: Sequence[str] = (),
        remote_tls: TlsConfig | None = None,
    ) -> None:
        self.directory = directory
        self.own = directory / f"{router_id}{SOCKET_SUFFIX}" if directory else None
        self.remote = tuple(remote)
        self._remote_tls = remote_tls
        self._channels: dict[str, grpc.aio.Channel] = {}

    def prepare(self) -> list[str]:
        """Create the directory, drop a stale socket of this router's id, and return the
        local addresses this router must also listen on (`unix:PATH`; none without a
        directory)."""
        if self.own is None or self.directory is None:
            return []
        if len(str(self.own).encode()) > MAX_SOCKET_PATH:
            raise ValueError(f"peer socket path {self.own} is over {MAX_SOCKET_PATH} bytes")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.own.unlink(missing_ok=True)
        return [f"unix:{self.own}"]

    def others(self) -> list[str]:
        """Addresses to ask: this host's other routers whose sockets accept a connection
        now, then every remote peer (one that is down answers UNAVAILABLE)."""
        local = []
        if self.directory is not None:
            local = [
                f"unix:{path}"
                for path in sorted(self.directory.glob(f"*{SOCKET_SUFFIX}"))
                if path != self.own and _accepts(path)
            ]
        return [*local, *self.remote]

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
                router_pb2_grpc.RouterServiceStub(self._channel(address)).RecordFeedback(
                    request, metadata=forwarded, timeout=timeout
                )
            )
            for address in peers
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

    def _channel(self, address: str) -> grpc.aio.Channel:
        channel = self._channels.get(address)
        if channel is None:
            if address.startswith("unix:"):
                channel = grpc.aio.insecure_channel(address)
            else:
                channel = open_upstream_channel(address, self._remote_tls)
            self._channels[address] = channel
        return channel

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        if self.own is not None:
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
