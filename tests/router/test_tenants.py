"""Router caller tokens (services/router/tenants.py): the tokens file, the lookup, and
the decision each Route()/Plan() gets: who the caller is and which tier it may use."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from services.router.tenants import (
    TenantGrant,
    TenantMismatch,
    TenantTokens,
    TierNotAllowed,
)
from switchyard.runtime.errors import PermissionDenied, StartupError, Unauthenticated
from switchyard.suite import EXAMPLES

ACME = TenantGrant(tenant="acme", tiers=frozenset({"free", "pro"}), default_tier="free")


def table() -> TenantTokens:
    return TenantTokens.from_tokens({"acme-token": ACME})


def test_the_token_decides_the_tenant_and_the_default_tier() -> None:
    """An empty tenant and tier become the token's tenant and its default tier."""
    caller = table().admit("acme-token", tenant="", tier="")
    assert (caller.tenant, caller.tier) == ("acme", "free")
    assert caller.token_id == hashlib.sha256(b"acme-token").hexdigest()[:8]


def test_an_allowed_tier_and_the_own_tenant_are_kept() -> None:
    """A request naming its own tenant and an allowed tier runs as asked."""
    caller = table().admit("acme-token", tenant="acme", tier="pro")
    assert (caller.tenant, caller.tier) == ("acme", "pro")


def test_missing_and_unknown_tokens_are_unauthenticated() -> None:
    """No token, or one not in the table, is UNAUTHENTICATED; the message never
    repeats the presented token, only its fingerprint."""
    with pytest.raises(Unauthenticated, match="missing credentials"):
        table().admit("", tenant="", tier="")
    with pytest.raises(Unauthenticated, match="unknown token") as info:
        table().admit("guess", tenant="acme", tier="free")
    assert "guess" not in info.value.message


def test_another_tenant_is_permission_denied() -> None:
    """A token cannot spend another tenant's budget: naming a different tenant is
    PERMISSION_DENIED (reason TENANT_MISMATCH), not silently rewritten."""
    with pytest.raises(TenantMismatch, match=r"'acme'.*'globex'") as info:
        table().admit("acme-token", tenant="globex", tier="")
    assert info.value.reason == "TENANT_MISMATCH"
    assert info.value.code.name == "PERMISSION_DENIED"


def test_a_tier_the_token_does_not_allow_is_permission_denied() -> None:
    """A higher tier than the token allows is PERMISSION_DENIED (TIER_NOT_ALLOWED),
    naming the allowed ones."""
    with pytest.raises(TierNotAllowed, match=r"'enterprise'.*\['free', 'pro'\]") as info:
        table().admit("acme-token", tenant="", tier="enterprise")
    assert info.value.code.name == "PERMISSION_DENIED"


def test_errors_quote_only_the_start_of_a_long_value() -> None:
    """A 100 000-character tenant or tier is quoted to 64 characters: the message goes
    back in the trailers, which gRPC caps (seen as RESOURCE_EXHAUSTED in the fuzz)."""
    for field in ("tenant", "tier"):
        with pytest.raises(PermissionDenied) as info:
            table().admit("acme-token", **{"tenant": "", "tier": "", field: "x" * 100_000})
        assert len(info.value.message) < 250
        assert "'" + "x" * 64 + "'... (100000 characters)" in info.value.message


def test_tokens_file_with_clear_and_hashed_tokens(tmp_path: Path) -> None:
    """A file entry is a clear token or `sha256:<hex>`; both admit their holder, and
    default_tier defaults to the first tier."""
    digest = hashlib.sha256(b"globex-secret").hexdigest()
    path = tmp_path / "tenants.yaml"
    path.write_text(
        "tokens:\n"
        "  acme-token: {tenant: acme, tiers: [free, pro], default_tier: pro}\n"
        f"  'sha256:{digest.upper()}': {{tenant: globex, tiers: [enterprise, pro]}}\n"
    )
    tokens = TenantTokens.from_file(path)
    assert len(tokens) == 2
    assert tokens.admit("acme-token", tenant="", tier="").tier == "pro"
    globex = tokens.admit("globex-secret", tenant="", tier="")
    assert (globex.tenant, globex.tier) == ("globex", "enterprise")
    with pytest.raises(Unauthenticated):
        tokens.admit(f"sha256:{digest}", tenant="", tier="")  # the digest is not the token


def test_the_dev_tokens_file_make_run_uses() -> None:
    """examples/tenants.yaml gives dev-tenant-token to tenant demo with every tier."""
    tokens = TenantTokens.from_file(EXAMPLES / "tenants.yaml")
    for tier in ("free", "pro", "enterprise"):
        assert tokens.admit("dev-tenant-token", tenant="", tier=tier).tenant == "demo"
    assert tokens.admit("dev-tenant-token", tenant="demo", tier="").tier == "free"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[]", "expected a mapping"),
        ("tokens: []", "expected a mapping"),
        ("tokens: {}\nextra: 1", "unknown keys \\['extra'\\]"),
        ("tokens: {}", "no tokens"),
        ("tokens: {t: {tiers: [free]}}", "tenant must be a non-empty string"),
        ("tokens: {t: {tenant: a}}", "tiers must be a non-empty list"),
        ("tokens: {t: {tenant: a, tiers: []}}", "tiers must be a non-empty list"),
        ("tokens: {t: {tenant: a, tiers: [free], default_tier: pro}}", "not one of its tiers"),
        ("tokens: {t: {tenant: a, tiers: [free], role: x}}", "unknown keys \\['role'\\]"),
        ("tokens: {t: a}", "expected \\{tenant, tiers, default_tier\\}"),
        ("tokens: {'sha256:abc': {tenant: a, tiers: [free]}}", "64 hex digits"),
        ("tokens: {'': {tenant: a, tiers: [free]}}", "non-empty string"),
        ("tokens: {: x", "is not YAML"),
    ],
)
def test_bad_tokens_files_fail_at_start_with_what_to_fix(
    tmp_path: Path, text: str, error: str
) -> None:
    """Every malformed file is a StartupError naming the problem (and the token only by
    its fingerprint)."""
    path = tmp_path / "tenants.yaml"
    path.write_text(text)
    with pytest.raises(StartupError, match=error):
        TenantTokens.from_file(path)


def test_a_token_listed_twice_is_refused(tmp_path: Path) -> None:
    """The same token in the clear and hashed is one token twice: refused, not merged."""
    digest = hashlib.sha256(b"dup").hexdigest()
    path = tmp_path / "tenants.yaml"
    path.write_text(
        f"tokens:\n  dup: {{tenant: a, tiers: [free]}}\n"
        f"  'sha256:{digest}': {{tenant: b, tiers: [pro]}}\n"
    )
    with pytest.raises(StartupError, match="appears twice") as info:
        TenantTokens.from_file(path)
    assert "dup" not in str(info.value).replace("tenant tokens file", "")


def test_a_missing_file_is_a_startup_error(tmp_path: Path) -> None:
    """A tokens file that cannot be read stops the router at start, naming the file."""
    with pytest.raises(StartupError, match="cannot read tenant tokens file"):
        TenantTokens.from_file(tmp_path / "absent.yaml")
