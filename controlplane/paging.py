"""Opaque page tokens (AIP-158) and page-size rules shared by the List RPCs."""

from __future__ import annotations

import base64
import binascii

from switchyard.runtime.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def encode_page_token(kind: str, position: str) -> str:
    """`kind` keeps a token from one List RPC from being replayed against another."""
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode()


def decode_page_token(kind: str, token: str) -> str | None:
    """The position a token carries; None for the first page."""
    if not token:
        return None
    try:
        found, sep, position = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        found, sep, position = "", "", ""
    if found != kind or not sep:
        raise InvalidArgument(
            [FieldViolation("page_token", "not a token this RPC issued; pass next_page_token")]
        )
    return position


def page_size_of(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
