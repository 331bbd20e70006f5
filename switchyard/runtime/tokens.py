"""Bearer tokens as every service reads them: `authorization: Bearer <token>`."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

AUTHORIZATION_HEADER = "authorization"


def bearer_token(metadata: Sequence[tuple[str, Any]] | None) -> str:
    """The token of the call's `authorization: Bearer ...` header; "" when there is none."""
    for key, value in metadata or ():
        if key == AUTHORIZATION_HEADER:
            text = value.decode() if isinstance(value, bytes) else str(value)
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    return ""


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying `token`; none for an empty token."""
    return ((AUTHORIZATION_HEADER, f"Bearer {token}"),) if token else ()


def token_digest(token: str) -> str:
    """SHA-256 of the token, hex: how token files may store it, and how tables key it."""
    return hashlib.sha256(token.encode()).hexdigest()


def fingerprint(token: str) -> str:
    """A short, non-reversible token id for logs and the change history."""
    return token_digest(token)[:8]
