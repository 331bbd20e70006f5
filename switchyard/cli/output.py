"""What every CLI command prints the same way about failed calls (tables: cli/tables.py)."""

from __future__ import annotations

import sys

import grpc

from switchyard.client import CallError

HINTS = {
    grpc.StatusCode.UNAUTHENTICATED: " (pass --token or set SWITCHYARD_TOKEN)",
    grpc.StatusCode.PERMISSION_DENIED: " (this needs an admin token)",
    grpc.StatusCode.ABORTED: " (someone else changed it; re-read and retry)",
}


def report_call_error(
    error: CallError,
    *,
    service: str,
    address: str,
    refused: str = "",
    unreachable_status: int = 3,
) -> int:
    """Print what failed and what to do about it on stderr; return the exit status.

    `refused` heads the list of field violations (e.g. "nothing was changed").
    """
    if error.unreachable:
        print(f"error: cannot reach the {service} at {address}: {error.message}", file=sys.stderr)
        return unreachable_status
    if error.field_violations:
        head = refused or f"the {service} refused the request"
        print(f"error: {error.code.name}: {head}:", file=sys.stderr)
        for violation in error.field_violations:
            print(f"  {violation.field}: {violation.description}", file=sys.stderr)
        return 1
    print(f"error: {error.code.name}: {error.message}{HINTS.get(error.code, '')}", file=sys.stderr)
    for quota in error.quota_violations:
        print(f"  quota {quota.subject}: {quota.description}", file=sys.stderr)
    if error.retry_delay_s is not None:
        print(f"  the {service} asks to retry after {error.retry_delay_s:g}s", file=sys.stderr)
    return 1
