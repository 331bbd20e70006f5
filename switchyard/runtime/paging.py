"""Page tokens (AIP-158) and page-size rules: one set for every List RPC in the suite.

A token is opaque to clients: base64url JSON holding the last position returned and a
hash of the query it belongs to (the RPC's name and its filter), so a token from one
listing cannot be replayed against another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from switchyard.runtime.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size_of(requested: int, field_name: str = "page_size") -> int:
    """0 means the default; negative is INVALID_ARGUMENT; anything above the cap is capped."""
    if requested < 0:
        raise InvalidArgument([FieldViolation(field_name, "must not be negative")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _query_hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:16]


def encode_page_token(position: str | int, query: str) -> str:
    raw = json.dumps({"p": position, "q": _query_hash(query)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(token: str, query: str, kind: type, field_name: str = "page_token") -> Any:
    """The position stored in `token` (of type `kind`), or None for the first page."""
    if not token:
        return None
    problem = [FieldViolation(field_name, "not a page token from this service")]
    try:
        padded = token + "=" * (-len(token) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position, query_hash = decoded["p"], decoded["q"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidArgument(problem) from exc
    if not isinstance(position, kind) or isinstance(position, bool):
        raise InvalidArgument(problem)
    if query_hash != _query_hash(query):
        raise InvalidArgument(
            [FieldViolation(field_name, "was issued for a different query; start from page 1")]
        )
    return position
