"""Artefacts the control plane distributes, kept on the router's disk by content address.

A snapshot lists the artefacts its policies name (`sha256:<hex>`). Before the router
applies it, each must be in the cache with bytes whose SHA-256 is that hex: fetched
from the control plane (`GetArtefact`) when missing, verified before it is written and
again before every use. The cache sits beside the last good snapshot, so a restart
with the control plane down restores both.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path

import grpc
import structlog

from switchyard.controlplane.v1 import controlplane_pb2, controlplane_pb2_grpc
from switchyard.runtime.errors import FieldViolation
from switchyard.runtime.files import write_atomically

log = structlog.get_logger(__name__)

PREFIX = "sha256:"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_FETCH_TIMEOUT_S = 30.0


def hex_of(digest: str) -> str:
    hex_digest = digest.removeprefix(PREFIX)
    if not digest.startswith(PREFIX) or len(hex_digest) != 64:
        raise ValueError(f"not a content address: {digest!r}")
    return hex_digest


class ArtefactCache:
    def __init__(self, directory: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes

    def path(self, digest: str) -> Path:
        return self.directory / hex_of(digest)

    def verified(self, digest: str) -> bool:
        """The cached bytes exist and hash to the digest (checked on every call)."""
        try:
            path = self.path(digest)
            data = path.read_bytes()
        except (OSError, ValueError):
            return False
        return hashlib.sha256(data).hexdigest() == hex_of(digest)

    def store(self, digest: str, data: bytes) -> None:
        """Keep `data` under `digest`; ValueError if it does not hash to it."""
        actual = hashlib.sha256(data).hexdigest()
        if actual != hex_of(digest):
            raise ValueError(f"artefact {digest} arrived with SHA-256 {actual}")
        write_atomically(self.path(digest), data)

    def problems(self, artefacts: Sequence[controlplane_pb2.Artefact]) -> list[FieldViolation]:
        """What stops the snapshot from being applied: artefacts absent or damaged here."""
        return [
            FieldViolation(
                f"artefacts[{i}]",
                f"artefact {a.digest} ({a.name}) is not on this router or fails its hash",
            )
            for i, a in enumerate(artefacts)
            if not self.verified(a.digest)
        ]

    def prune(self, keep: Sequence[str]) -> None:
        """Remove cached artefacts the last good snapshot no longer names."""
        wanted = {hex_of(d) for d in keep}
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            if path.is_file() and path.name not in wanted and not path.name.startswith("."):
                path.unlink(missing_ok=True)


class ArtefactFetcher:
    """Fetches a snapshot's missing artefacts from the control plane, bounded in size and time."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        cache: ArtefactCache,
        *,
        metadata: Sequence[tuple[str, str]] = (),
        timeout_s: float = DEFAULT_FETCH_TIMEOUT_S,
    ) -> None:
        self._stub = controlplane_pb2_grpc.ControlPlaneServiceStub(channel)
        self._cache = cache
        self._metadata = tuple(metadata)
        self._timeout_s = timeout_s

    async def fetch_missing(self, snapshot: controlplane_pb2.RouterConfigSnapshot) -> str:
        """Fetch what the cache lacks; "" when all is here, else why not (to NACK with)."""
        for artefact in snapshot.artefacts:
            if self._cache.verified(artefact.digest):
                continue
            try:
                data = await asyncio.wait_for(self._download(artefact), self._timeout_s)
                self._cache.store(artefact.digest, data)
            except (grpc.aio.AioRpcError, ValueError, OSError, TimeoutError) as exc:
                reason = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
                log.warning("artefact.fetch_failed", digest=artefact.digest, error=reason)
                return f"cannot get artefact {artefact.digest} ({artefact.name}): {reason}"
            log.info("artefact.fetched", digest=artefact.digest, size_bytes=artefact.size_bytes)
        return ""

    async def _download(self, artefact: controlplane_pb2.Artefact) -> bytes:
        if artefact.size_bytes > self._cache.max_bytes:
            limit = self._cache.max_bytes
            raise ValueError(f"{artefact.size_bytes} bytes is over this router's limit of {limit}")
        pieces: list[bytes] = []
        received = 0
        call = self._stub.GetArtefact(
            controlplane_pb2.GetArtefactRequest(digest=artefact.digest), metadata=self._metadata
        )
        async for chunk in call:
            received += len(chunk.data)
            if received > self._cache.max_bytes:
                call.cancel()
                raise ValueError(f"more than this router's limit of {self._cache.max_bytes} bytes")
            pieces.append(chunk.data)
        return b"".join(pieces)
