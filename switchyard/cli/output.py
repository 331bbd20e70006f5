"""What every CLI command prints the same way about failed calls (tables: cli/tables.py)."""

from __future__ import annotations

import sys
from collections.abc import Mapping

import grpc

from switchyard.client import CallError

HINTS = {
    grpc.StatusCode.UNAUTHENTICATED: " (pass --token or set SWITCHYARD_TOKEN)",
    grpc.StatusCode.PERMISSION_DENIED: " (this needs an admin token)",
    grpc.StatusCode.ABORTED: " (someone else changed it; re-read and retry)",
}
# The router's tokens are callers' (tenant and tiers), not the registry's scopes.
ROUTER_HINTS = {
    grpc.StatusCode.UNAUTHENTICATED: " (pass --token or set SWITCHYARD_TOKEN; make run's dev "
    "token is dev-tenant-token)",
}
# What a TLS server's refusal of a plaintext (or certificate-less) client looks like.
_HANDSHAKE_SIGNS = ("socket closed", "handshake", "ssl", "tls", "certificate")
TLS_HINT = (
    "  a TLS server? pass --tls-ca (mutual TLS: also --tls-cert and --tls-key) or set "
    "SWITCHYARD_TLS_CA (docs/security.md)"
)


def report_call_error(
    error: CallError,
    *,
    service: str,
    address: str,
    refused: str = "",
    unreachable_status: int = 3,
    hints: Mapping[grpc.StatusCode, str] = HINTS,
) -> int:
    """Print what failed and what to do about it on stderr; return the exit status.

    `refused` heads the list of field violations (e.g. "nothing was changed").
    """
    if error.unreachable:
        print(f"error: cannot reach the {service} at {address}: {error.message}", file=sys.stderr)
        if any(sign in error.message.lower() for sign in _HANDSHAKE_SIGNS):
            print(TLS_HINT, file=sys.stderr)
        return unreachable_status
    if error.field_violations:
        head = refused or f"the {service} refused the request"
        print(f"error: {error.code.name}: {head}:", file=sys.stderr)
        for violation in error.field_violations:
            print(f"  {violation.field}: {violation.description}", file=sys.stderr)
        return 1
    print(f"error: {error.code.name}: {error.message}{hints.get(error.code, '')}", file=sys.stderr)
    for quota in error.quota_violations:
        print(f"  quota {quota.subject}: {quota.description}", file=sys.stderr)
    if error.retry_delay_s is not None:
        print(f"  the {service} asks to retry after {error.retry_delay_s:g}s", file=sys.stderr)
    return 1
