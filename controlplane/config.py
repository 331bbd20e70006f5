"""Control-plane configuration: a frozen dataclass built once by `load_config`."""

from __future__ import annotations

from dataclasses import dataclass

from switchyard.runtime.config import ServerConfig
from switchyard.runtime.errors import StartupError
from switchyard.runtime.tls import (
    TlsConfig,
    check_registry_token_transport,
    configured_upstream_tls,
)

ENV_PREFIX = "SWITCHYARD_CONTROLPLANE_"
DEFAULT_PORT = 50054


@dataclass(frozen=True)
class ControlPlaneConfig(ServerConfig):
    port: int = DEFAULT_PORT
    # Room for an artefact upload in one message (the suite's default is 4 MiB).
    max_message_bytes: int = 64 * 1024 * 1024
    # The largest artefact UploadArtefact accepts; must fit in one message.
    max_artefact_bytes: int = 48 * 1024 * 1024
    db_path: str = "var/controlplane.db"
    # Published and activated at start when the store holds no policy yet.
    seed_policy: str = ""
    # host:port of the registry; when set, PublishPolicy refuses unknown models.
    registry_address: str = ""
    # Bound on the registry lookup made at publish time.
    registry_timeout_s: float = 3.0
    # Bearer token for that lookup (read scope), when the registry checks tokens.
    registry_token: str = ""
    # TLS towards the registry: its CA (TLS on when set); for mutual TLS, this control
    # plane's client certificate and key.
    registry_tls_ca_file: str = ""
    registry_tls_cert_file: str = ""
    registry_tls_key_file: str = ""
    # A half-open probe lease lapses after this long without progress from its holder.
    breaker_lease_s: float = 2.0
    # Bearer tokens by scope (docs/security.md). All empty: access control is off.
    # operator: every RPC; router: the config stream, reports and artefact downloads;
    # read: the Get/List RPCs only.
    operator_tokens: tuple[str, ...] = ()
    router_tokens: tuple[str, ...] = ()
    read_tokens: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.db_path:
            raise StartupError("db_path must not be empty")
        if self.registry_timeout_s <= 0:
            raise StartupError(f"registry_timeout_s must be > 0, got {self.registry_timeout_s}")
        if not 0.1 <= self.breaker_lease_s <= 600:
            raise StartupError(f"breaker_lease_s must be in [0.1, 600], got {self.breaker_lease_s}")
        if self.registry_address and ":" not in self.registry_address:
            raise StartupError(f"registry_address must be host:port, got {self.registry_address!r}")
        check_registry_token_transport(self)
        if not 1 <= self.max_artefact_bytes <= self.max_message_bytes - 64 * 1024:
            raise StartupError(
                "max_artefact_bytes must be >= 1 and leave 64 KiB of max_message_bytes"
                f" ({self.max_message_bytes}) for the rest of the message"
            )
        scopes = (self.operator_tokens, self.router_tokens, self.read_tokens)
        if any(not token.strip() for tokens in scopes for token in tokens):
            raise StartupError("access tokens must not be empty strings")

    @property
    def registry_tls(self) -> TlsConfig | None:
        return configured_upstream_tls(self, "registry")
