"""Who is calling the router: bearer tokens mapped to a tenant and the tiers it may use.

A tenant tokens file (YAML, `--tenant-tokens-file`) maps each token, in the clear or as
`sha256:<hex digest>`, to its grant:

    tokens:
      dev-tenant-token: {tenant: demo, tiers: [free, pro, enterprise], default_tier: free}
      "sha256:5e88...": {tenant: acme, tiers: [free, pro]}       # default_tier: the first

With a table loaded, `TenantTokens.admit` decides every Route()/Plan(): no or an unknown
token is UNAUTHENTICATED; the tenant is the token's (a request naming another tenant is
PERMISSION_DENIED, so no caller spends another tenant's budget); the tier is the
request's if the token allows it (a higher one is PERMISSION_DENIED), else the token's
default when the request names none. Pure: no gRPC, no I/O but `from_file`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from switchyard.runtime.errors import PermissionDenied, StartupError, Unauthenticated
from switchyard.runtime.tokens import fingerprint, token_digest

HASHED_PREFIX = "sha256:"
# Request values are echoed in errors only this far: a status message travels in the
# trailers, whose size gRPC limits (an oversized one reaches the client as another code).
ECHO_CHARS = 64
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_GRANT_KEYS = frozenset({"tenant", "tiers", "default_tier"})


class TenantMismatch(PermissionDenied):
    reason = "TENANT_MISMATCH"


class TierNotAllowed(PermissionDenied):
    reason = "TIER_NOT_ALLOWED"


@dataclass(frozen=True)
class TenantGrant:
    """What one token lets its holder do."""

    tenant: str
    tiers: frozenset[str]
    default_tier: str

    def __post_init__(self) -> None:
        if not self.tenant or not self.tiers or self.default_tier not in self.tiers:
            raise ValueError("a grant needs a tenant, tiers, and a default tier among them")


@dataclass(frozen=True)
class Caller:
    """The identity a request runs under once admitted."""

    tenant: str
    tier: str
    token_id: str  # the token's fingerprint, for logs


class TenantTokens:
    """Token digests -> grants; a lookup is one SHA-256 and one dict access."""

    def __init__(self, grants: Mapping[str, TenantGrant]) -> None:
        # Keyed by the token's SHA-256 hex digest: the clear token is never kept.
        self._grants = dict(grants)

    def __len__(self) -> int:
        return len(self._grants)

    @classmethod
    def from_tokens(cls, grants: Mapping[str, TenantGrant]) -> TenantTokens:
        """From clear tokens (tests, embedding)."""
        return cls({token_digest(token): grant for token, grant in grants.items()})

    @classmethod
    def from_file(cls, path: str | Path) -> TenantTokens:
        """Read and check a tenant tokens file; StartupError says what to fix."""
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except OSError as exc:
            raise StartupError(f"cannot read tenant tokens file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise StartupError(f"tenant tokens file {path} is not YAML: {exc}") from exc
        try:
            return cls.parse(loaded)
        except ValueError as exc:
            raise StartupError(f"tenant tokens file {path}: {exc}") from exc

    @classmethod
    def parse(cls, document: Any) -> TenantTokens:
        """The table a parsed tokens file describes; ValueError names the bad entry."""
        if not isinstance(document, dict) or not isinstance(document.get("tokens"), dict):
            raise ValueError("expected a mapping with `tokens: {TOKEN: {tenant, tiers}}`")
        unknown = sorted(set(document) - {"tokens"})
        if unknown:
            raise ValueError(f"unknown keys {unknown}")
        grants: dict[str, TenantGrant] = {}
        for key, entry in document["tokens"].items():
            digest = _digest_of(key)
            where = f"token {fingerprint_of_key(key)}"
            if digest in grants:
                raise ValueError(f"{where} appears twice")
            grants[digest] = _grant(entry, where)
        if not grants:
            raise ValueError("no tokens: remove --tenant-tokens-file to turn authentication off")
        return cls(grants)

    def admit(self, token: str, *, tenant: str, tier: str) -> Caller:
        """The caller a request with this token, tenant and tier fields runs as.

        Raises Unauthenticated (no or unknown token), TenantMismatch or TierNotAllowed.
        """
        if not token:
            raise Unauthenticated(
                "missing credentials: send 'authorization: Bearer <token>' "
                "(switchyard route --token or $SWITCHYARD_TOKEN)"
            )
        grant = self._grants.get(token_digest(token))
        if grant is None:
            raise Unauthenticated(f"unknown token {fingerprint(token)}")
        if tenant and tenant != grant.tenant:
            raise TenantMismatch(
                f"the token belongs to tenant {grant.tenant!r} but the request names tenant "
                f"{_echo(tenant)}: leave tenant empty or use that tenant's token"
            )
        if not tier:
            tier = grant.default_tier
        elif tier not in grant.tiers:
            raise TierNotAllowed(
                f"tier {_echo(tier)} is not allowed for tenant {grant.tenant!r}; "
                f"its token allows {sorted(grant.tiers)}"
            )
        return Caller(tenant=grant.tenant, tier=tier, token_id=fingerprint(token))


def _echo(value: str) -> str:
    """A request value as an error message quotes it: repr, cut to ECHO_CHARS."""
    if len(value) <= ECHO_CHARS:
        return repr(value)
    return f"{value[:ECHO_CHARS]!r}... ({len(value)} characters)"


def _digest_of(key: Any) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ValueError("every token must be a non-empty string")
    if key.startswith(HASHED_PREFIX):
        digest = key[len(HASHED_PREFIX) :].lower()
        if not _HEX_DIGEST.fullmatch(digest):
            raise ValueError(f"{key[:16]}...: sha256: needs 64 hex digits")
        return digest
    return token_digest(key)


def fingerprint_of_key(key: str) -> str:
    """How an entry is named in errors: never the token itself."""
    if key.startswith(HASHED_PREFIX):
        return key[len(HASHED_PREFIX) :][:8]
    return fingerprint(key)


def _grant(entry: Any, where: str) -> TenantGrant:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected {{tenant, tiers, default_tier}}")
    unknown = sorted(set(entry) - _GRANT_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; known: {sorted(_GRANT_KEYS)}")
    tenant = entry.get("tenant")
    if not isinstance(tenant, str) or not tenant:
        raise ValueError(f"{where}: tenant must be a non-empty string")
    tiers = entry.get("tiers")
    if not isinstance(tiers, list) or not tiers or not all(isinstance(t, str) and t for t in tiers):
        raise ValueError(f"{where}: tiers must be a non-empty list of tier names")
    default_tier = entry.get("default_tier", tiers[0])
    if default_tier not in tiers:
        raise ValueError(f"{where}: default_tier {default_tier!r} is not one of its tiers")
    return TenantGrant(tenant=tenant, tiers=frozenset(tiers), default_tier=default_tier)
