"""`switchyard certs dev --out DIR`: a local CA and certificates for TLS and mutual TLS.

    switchyard certs dev --out var/certs [--host myhost.example --host 10.0.0.5] [--days 30]

Writes ca.pem (+ ca-key.pem), <service>.pem / <service>-key.pem for the router,
registry, verifier and control plane, and client.pem / client-key.pem. For development
only (docs/security.md). Exit status: 0 written, 1 the folder already holds a set
(--force replaces it), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from switchyard.certs import CLIENT, DEFAULT_DAYS, SERVICES, DevCerts, write_dev_certs


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    certs = subparsers.add_parser("certs", help="certificates for TLS and mutual TLS")
    commands = certs.add_subparsers(dest="certs_command", required=True)
    dev = commands.add_parser(
        "dev", help="write a local CA and service and client certificates (development only)"
    )
    dev.add_argument("--out", type=Path, required=True, help="folder to write them to")
    dev.add_argument(
        "--host",
        action="append",
        default=[],
        help="extra name or IP in every service certificate (repeatable); "
        "localhost, 127.0.0.1 and ::1 are always there",
    )
    dev.add_argument("--days", type=int, default=DEFAULT_DAYS, help="validity, days")
    dev.add_argument("--force", action="store_true", help="replace an existing set")
    dev.set_defaults(func=_dev)


def _dev(args: argparse.Namespace) -> int:
    if args.days < 1:
        print("error: --days must be >= 1", file=sys.stderr)
        return 2
    layout = DevCerts(args.out)
    if layout.ca.exists() and not args.force:
        print(
            f"error: {layout.ca} exists; pass --force to replace the whole set "
            "(certificates signed by the old CA then stop working)",
            file=sys.stderr,
        )
        return 1
    write_dev_certs(args.out, hosts=args.host, days=args.days)
    print(f"CA           {layout.ca}  (key {layout.ca_key}: keep it private)")
    for name in (*SERVICES, CLIENT):
        pair = layout.service(name)
        print(f"{name:<13}{pair.cert}  {pair.key}")
    router = layout.service("router")
    print(
        "\nServe with TLS (any service):  --tls-cert-file "
        f"{router.cert} --tls-key-file {router.key}"
        f"\n  mutual TLS, add:              --tls-client-ca-file {layout.ca}"
        f"\nCall it:  switchyard route 'Hi' --tls-ca {layout.ca}"
        f" [--tls-cert {layout.client.cert} --tls-key {layout.client.key}]"
        "\nOr run the whole suite with TLS: make run TLS=1 (docs/security.md)"
    )
    return 0
