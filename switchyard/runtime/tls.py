"""TLS for every gRPC server and channel, from PEM files, and the one transport rule:
a bearer token never travels in plaintext to another host.

Servers: `server_credentials` (TLS; with a client CA, mutual TLS that requires and
verifies a client certificate). Channels: `TlsConfig` (a CA bundle, optionally a client
certificate and key) and `open_upstream_channel`, which every service-to-service channel
and the launcher use. `check_token_transport` is called wherever a token is attached.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from switchyard.runtime.errors import StartupError

# gRPC target schemes that name a socket on this machine, or addresses to resolve.
_LOCAL_SCHEMES = ("unix:", "unix-abstract:")
_ADDRESS_SCHEMES = ("dns:///", "dns:", "ipv4:", "ipv6:")


class PlaintextTokenError(ValueError):
    """A bearer token would be sent without TLS to an address that is not loopback."""


def read_pem(path: str | Path, *, setting: str, key: bool = False) -> bytes:
    """A PEM certificate (or, with key=True, private key) file's bytes, or a StartupError
    naming the setting and what is wrong with it."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise StartupError(f"cannot read {setting} {path}: {exc.strerror or exc}") from exc
    # "-----BEGIN PRIVATE KEY-----", "... EC PRIVATE KEY-----", "... RSA PRIVATE KEY-----"
    marker = b"PRIVATE KEY-----" if key else b"-----BEGIN CERTIFICATE-----"
    if marker not in data:
        what = "private key" if key else "certificate"
        raise StartupError(f"{setting} {path} holds no PEM {what}")
    return data


@dataclass(frozen=True)
class TlsConfig:
    """A channel's TLS: server verification against `root_certificates` (else the
    system roots) and, with a client certificate and key, mutual TLS."""

    root_certificates: Path | None = None
    client_certificate: Path | None = None
    client_key: Path | None = None
    # Expected name in the server's certificate when it differs from the address's host.
    server_name: str = ""

    def __post_init__(self) -> None:
        if (self.client_certificate is None) != (self.client_key is None):
            raise ValueError("mutual TLS needs both client_certificate and client_key")

    @classmethod
    def from_files(cls, *, ca_file: str, cert_file: str = "", key_file: str = "") -> TlsConfig:
        """From string settings (empty = not set), as service configs hold them."""
        return cls(
            root_certificates=Path(ca_file) if ca_file else None,
            client_certificate=Path(cert_file) if cert_file else None,
            client_key=Path(key_file) if key_file else None,
        )

    @property
    def mutual(self) -> bool:
        return self.client_certificate is not None

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path: Path | None, setting: str, key: bool = False) -> bytes | None:
            return read_pem(path, setting=setting, key=key) if path is not None else None

        return grpc.ssl_channel_credentials(
            root_certificates=read(self.root_certificates, "CA file"),
            private_key=read(self.client_key, "client key", key=True),
            certificate_chain=read(self.client_certificate, "client certificate"),
        )

    def channel_options(self) -> list[tuple[str, Any]]:
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []


def check_server_tls_files(*, cert_file: str, key_file: str, client_ca_file: str) -> None:
    """The server TLS settings make sense together (checked in config __post_init__)."""
    if bool(cert_file) != bool(key_file):
        raise StartupError("TLS needs both tls_cert_file and tls_key_file")
    if client_ca_file and not cert_file:
        raise StartupError(
            "tls_client_ca_file (mutual TLS) needs TLS: set tls_cert_file and tls_key_file"
        )


def upstream_tls(name: str, *, ca_file: str, cert_file: str, key_file: str) -> TlsConfig | None:
    """One upstream's channel TLS from its `<name>_tls_*` settings; None (plaintext)
    when no CA file is set. Raises StartupError when the settings do not fit together."""
    if bool(cert_file) != bool(key_file):
        raise StartupError(f"{name}_tls_cert_file and {name}_tls_key_file go together")
    if cert_file and not ca_file:
        raise StartupError(
            f"{name}_tls_cert_file (mutual TLS) needs TLS: set {name}_tls_ca_file, the CA "
            f"that signed the {name}'s certificate"
        )
    if not ca_file:
        return None
    return TlsConfig.from_files(ca_file=ca_file, cert_file=cert_file, key_file=key_file)


def configured_upstream_tls(config: object, name: str) -> TlsConfig | None:
    """`upstream_tls` from a service config's `<name>_tls_ca_file/_cert_file/_key_file`."""
    return upstream_tls(
        name,
        ca_file=getattr(config, f"{name}_tls_ca_file"),
        cert_file=getattr(config, f"{name}_tls_cert_file"),
        key_file=getattr(config, f"{name}_tls_key_file"),
    )


def check_registry_token_transport(config: object) -> None:
    """A service's registry_token never goes to a remote registry in plaintext."""
    try:
        check_token_transport(
            config.registry_address,
            secure=configured_upstream_tls(config, "registry") is not None,
            sends_token=bool(config.registry_token),
        )
    except PlaintextTokenError as exc:
        raise StartupError(f"registry_token: {exc} (registry_tls_ca_file)") from exc


def server_credentials(
    *, cert_file: str, key_file: str, client_ca_file: str = ""
) -> grpc.ServerCredentials:
    """TLS with this certificate; with a client CA, every client must present a
    certificate that CA signed (mutual TLS), or the handshake fails."""
    key = read_pem(key_file, setting="tls_key_file", key=True)
    chain = read_pem(cert_file, setting="tls_cert_file")
    client_ca = read_pem(client_ca_file, setting="tls_client_ca_file") if client_ca_file else None
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def _target_hosts(target: str) -> list[str] | None:
    """The hosts a gRPC target names; None for a local socket (unix:)."""
    if target.startswith(_LOCAL_SCHEMES):
        return None
    for scheme in _ADDRESS_SCHEMES:
        if target.startswith(scheme):
            target = target[len(scheme) :]
            break
    hosts = []
    for address in target.split(","):  # ipv4:a:1,b:2
        address = address.strip()
        if address.startswith("["):  # [::1]:50051
            host = address[1 : address.find("]")] if "]" in address else address
        elif address.count(":") > 1:  # a bare IPv6 address without a port
            host = address
        else:
            host = address.rpartition(":")[0] if ":" in address else address
        hosts.append(host)
    return hosts


def _is_loopback_host(host: str) -> bool:
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always loopback
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # any other name may resolve anywhere: not trusted to be local


def is_loopback(target: str) -> bool:
    """Whether a gRPC target stays on this machine: loopback IPs, localhost, unix
    sockets. Names are not resolved: only what the target itself says counts."""
    hosts = _target_hosts(target)
    return hosts is None or (bool(hosts) and all(_is_loopback_host(h) for h in hosts))


def check_token_transport(target: str, *, secure: bool, sends_token: bool) -> None:
    """Refuse to attach a bearer token to a plaintext channel to another host."""
    if sends_token and not secure and not is_loopback(target):
        raise PlaintextTokenError(
            f"refusing to send a bearer token in plaintext to {target}: it is not a "
            "loopback address; use TLS (a CA file) for this connection, or connect "
            "through 127.0.0.1"
        )


def open_upstream_channel(
    target: str,
    tls: TlsConfig | None,
    *,
    token: str = "",
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """A service-to-service channel: TLS when `tls` is set, else plaintext.

    `token` is what the caller will attach to calls on it; a StartupError when that
    would put it in plaintext on the network.
    """
    try:
        check_token_transport(target, secure=tls is not None, sends_token=bool(token))
    except PlaintextTokenError as exc:
        raise StartupError(str(exc)) from exc
    if tls is None:
        return grpc.aio.insecure_channel(target, options=list(options))
    return grpc.aio.secure_channel(
        target, tls.credentials(), options=[*options, *tls.channel_options()]
    )
