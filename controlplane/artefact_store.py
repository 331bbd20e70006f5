"""Uploaded artefacts: validated, content-addressed, stored once, read back in chunks."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from controlplane import rollout_store
from controlplane.model import ArtefactKind, ArtefactRecord, now_us
from switchyard.policy import Policy
from switchyard.runtime.errors import FieldViolation, InvalidArgument, NotFound
from switchyard.runtime.paging import decode_page_token, encode_page_token, page_size_of
from switchyard.runtime.sqlite import SqliteDatabase, Transaction

DIGEST_PREFIX = "sha256:"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")
MAX_NAME_CHARS = 200
# Pieces GetArtefact sends: well under any gRPC message limit.
CHUNK_BYTES = 1024 * 1024


def is_content_address(artefact: str) -> bool:
    return bool(_DIGEST.match(artefact))


def policy_artefacts(policy: Policy) -> tuple[str, ...]:
    """The content addresses a policy names (its predictor's, when it is one)."""
    ref = policy.predictor
    return (ref.artefact,) if ref is not None and is_content_address(ref.artefact) else ()


def check_digest(digest: str, field: str = "digest") -> str:
    if not _DIGEST.match(digest):
        raise InvalidArgument(
            [FieldViolation(field, "must be sha256: and 64 lower-case hex digits")]
        )
    return digest


@dataclass(frozen=True)
class ArtefactPage:
    artefacts: list[ArtefactRecord]
    next_page_token: str


class ArtefactStore:
    def __init__(self, db: SqliteDatabase, *, max_bytes: int) -> None:
        self._db = db
        self.max_bytes = max_bytes

    async def upload(
        self, *, name: str, kind: ArtefactKind | None, content: bytes, sha256: str, author: str
    ) -> tuple[ArtefactRecord, bool]:
        """Store `content` under its digest; refused whole if anything is wrong."""
        problems: list[FieldViolation] = []
        if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
            problems.append(
                FieldViolation("name", f"required, at most {MAX_NAME_CHARS} printable characters")
            )
        if kind is None:
            problems.append(
                FieldViolation("kind", "ARTEFACT_KIND_PREDICTOR or ARTEFACT_KIND_SCORER")
            )
        if not content:
            problems.append(FieldViolation("content", "must not be empty"))
        elif len(content) > self.max_bytes:
            problems.append(
                FieldViolation(
                    "content", f"{len(content)} bytes is over the limit of {self.max_bytes}"
                )
            )
        actual = hashlib.sha256(content).hexdigest()
        if not _HEX.match(sha256):
            problems.append(FieldViolation("sha256", "required: 64 lower-case hex digits"))
        elif sha256 != actual:
            problems.append(
                FieldViolation("sha256", f"does not match the content (its SHA-256 is {actual})")
            )
        if problems:
            raise InvalidArgument(problems)
        assert kind is not None
        record = ArtefactRecord(
            digest=DIGEST_PREFIX + actual,
            name=name,
            kind=kind,
            size_bytes=len(content),
            author=author,
            create_time_us=now_us(),
        )

        async def insert(tx: Transaction) -> tuple[ArtefactRecord, bool]:
            created = await rollout_store.insert_artefact(tx, record, content)
            stored = await rollout_store.get_artefact(tx, record.digest)
            assert stored is not None
            return stored, created

        return await self._db.transaction(insert)

    async def chunks(self, digest: str) -> AsyncIterator[tuple[int, bytes, int]]:
        """(offset, piece, total size) in order; NotFound when nothing has that digest."""
        check_digest(digest)

        async def read(tx: Transaction) -> bytes | None:
            return await rollout_store.artefact_content(tx, digest)

        content = await self._db.transaction(read)
        if content is None:
            raise NotFound(f"no artefact {digest} has been uploaded")
        for offset in range(0, len(content), CHUNK_BYTES):
            yield offset, content[offset : offset + CHUNK_BYTES], len(content)

    async def list(self, *, page_size: int, page_token: str) -> ArtefactPage:
        size = page_size_of(page_size)
        before = decode_page_token(page_token, "ListArtefacts", int)

        async def read(tx: Transaction) -> list[ArtefactRecord]:
            return await rollout_store.list_artefacts(tx, before_us=before, limit=size + 1)

        records = await self._db.transaction(read)
        more = len(records) > size
        records = records[:size]
        token = encode_page_token(records[-1].create_time_us, "ListArtefacts") if more else ""
        return ArtefactPage(records, token)
