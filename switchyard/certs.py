"""Development certificates: a local CA, one certificate per gRPC service and a client
certificate, for trying TLS and mutual TLS on one machine (`switchyard certs dev`).

Every service certificate is valid for localhost, 127.0.0.1, ::1, the service's name
and any extra host given, and may be used both to serve and, for mutual TLS, as the
service's client certificate towards its upstreams. The CA's key stays in the same
folder: anyone who can read it can mint certificates, so these are for development only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVICES = ("router", "registry", "verifier", "controlplane")
CLIENT = "client"
LOOPBACK_NAMES = ("localhost",)
LOOPBACK_IPS = ("127.0.0.1", "::1")
DEFAULT_DAYS = 365
# Clocks of two machines disagree a little; a certificate valid from "now" would be
# refused by one whose clock is behind.
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path

    def exists(self) -> bool:
        return self.cert.exists() and self.key.exists()


@dataclass(frozen=True)
class DevCerts:
    """Where `write_dev_certs` puts each file under `folder`."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    def service(self, name: str) -> CertPair:
        return CertPair(self.folder / f"{name}.pem", self.folder / f"{name}-key.pem")

    @property
    def client(self) -> CertPair:
        return self.service(CLIENT)

    def complete(self) -> bool:
        """Every file is there (the launcher then reuses them)."""
        return self.ca.exists() and all(self.service(name).exists() for name in (*SERVICES, CLIENT))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Switchyard development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Owner-only from the start: never world-readable, not even for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _subject_alt_names(hosts: Iterable[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):  # keeps order, drops repeats
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(entries)


def _issue(
    *,
    common_name: str,
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    hosts: Iterable[str],
    server: bool,
    days: int,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server:
        usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(_subject_alt_names(hosts), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _certificate_authority(days: int) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    name = _name("Switchyard development CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def write_dev_certs(
    folder: Path, *, hosts: Iterable[str] = (), days: int = DEFAULT_DAYS
) -> DevCerts:
    """Write a new CA, a certificate for each service and a client certificate.

    `hosts` (names or IP addresses) are added to every service certificate beside
    localhost, 127.0.0.1 and ::1. Existing files in `folder` are replaced.
    """
    if days < 1:
        raise ValueError("days must be >= 1")
    layout = DevCerts(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _certificate_authority(days)
    _write_key(layout.ca_key, ca_key)
    _write_cert(layout.ca, ca_cert)
    extra = tuple(hosts)
    for name in SERVICES:
        key = _key()
        cert = _issue(
            common_name=name,
            key=key,
            ca_cert=ca_cert,
            ca_key=ca_key,
            hosts=(*LOOPBACK_NAMES, name, *LOOPBACK_IPS, *extra),
            server=True,
            days=days,
        )
        pair = layout.service(name)
        _write_key(pair.key, key)
        _write_cert(pair.cert, cert)
    key = _key()
    client = _issue(
        common_name="switchyard-client",
        key=key,
        ca_cert=ca_cert,
        ca_key=ca_key,
        hosts=(),
        server=False,
        days=days,
    )
    _write_key(layout.client.key, key)
    _write_cert(layout.client.cert, client)
    return layout
