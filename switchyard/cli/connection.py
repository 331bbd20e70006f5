"""TLS flags every command that calls a service shares, and the router's default token.

    --tls-ca FILE     the CA that signed the server's certificate: turns TLS on
    --tls-cert FILE   with --tls-key: a client certificate, for mutual TLS
    --tls-server-name the name to expect in the server's certificate, when it differs

Each defaults to an environment variable ($SWITCHYARD_TLS_CA, $SWITCHYARD_TLS_CERT,
$SWITCHYARD_TLS_KEY, $SWITCHYARD_TLS_SERVER_NAME), so one `export` covers every command
against a suite started with `make run TLS=1`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from switchyard.client import DEV_TENANT_TOKEN, ClientConfig, TlsConfig
from switchyard.client.config import DEV_OPERATOR_TOKEN
from switchyard.runtime.tls import is_loopback

TLS_FLAGS = (
    ("--tls-ca", "tls_ca", "SWITCHYARD_TLS_CA", "CA file: verify the server with it (TLS on)"),
    ("--tls-cert", "tls_cert", "SWITCHYARD_TLS_CERT", "client certificate (mutual TLS)"),
    ("--tls-key", "tls_key", "SWITCHYARD_TLS_KEY", "client key (mutual TLS)"),
    (
        "--tls-server-name",
        "tls_server_name",
        "SWITCHYARD_TLS_SERVER_NAME",
        "expected name in the server's certificate",
    ),
)


def add_tls_flags(
    parser: argparse.ArgumentParser,
    *,
    suppress: bool = False,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Add the TLS flags; with suppress=True (subcommands) they do not hide a value given
    before the subcommand."""
    environ = os.environ if environ is None else environ
    for flag, dest, variable, help_text in TLS_FLAGS:
        default = argparse.SUPPRESS if suppress else environ.get(variable, "")
        parser.add_argument(flag, dest=dest, default=default, help=f"{help_text} (${variable})")


def tls_from_args(args: argparse.Namespace) -> TlsConfig | None:
    """The channel TLS the flags ask for; None (plaintext) without --tls-ca.

    Exits with status 2 and a message when the flags do not fit together.
    """
    ca = getattr(args, "tls_ca", "")
    cert = getattr(args, "tls_cert", "")
    key = getattr(args, "tls_key", "")
    if bool(cert) != bool(key):
        _usage("--tls-cert and --tls-key go together")
    if cert and not ca:
        _usage("--tls-cert (mutual TLS) needs --tls-ca, the CA that signed the server")
    if not ca:
        return None
    for path in (ca, cert, key):
        if path and not Path(path).is_file():
            _usage(f"no such file: {path}")
    return TlsConfig(
        root_certificates=Path(ca),
        client_certificate=Path(cert) if cert else None,
        client_key=Path(key) if key else None,
        server_name=getattr(args, "tls_server_name", ""),
    )


def router_token(explicit: str | None, *, address: str, tls: TlsConfig | None) -> str:
    """The token to send the router: --token or $SWITCHYARD_TOKEN when given, else the
    dev token of `make run` (examples/tenants.yaml) when the router is on this machine
    or the channel is TLS; never a default token in plaintext across the network."""
    if explicit is not None:
        return explicit
    if tls is not None or is_loopback(address):
        return DEV_TENANT_TOKEN
    return ""


def operator_token(explicit: str | None, *, address: str, tls: TlsConfig | None) -> str:
    """The token to send the control plane: --token or $SWITCHYARD_TOKEN when given,
    else `make run`'s dev operator token for a control plane on this machine or over
    TLS; never a default token in plaintext across the network."""
    if explicit is not None:
        return explicit
    if tls is not None or is_loopback(address):
        return DEV_OPERATOR_TOKEN
    return ""


def client_config(**settings: object) -> ClientConfig:
    """A ClientConfig, or exit 2 with the reason it cannot be built (e.g. a token that
    would go out in plaintext)."""
    try:
        return ClientConfig(**settings)  # type: ignore[arg-type]
    except ValueError as exc:
        _usage(str(exc))


def _usage(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)
