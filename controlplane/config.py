"""Control-plane configuration: a frozen dataclass built once by `load_config`."""

from __future__ import annotations

from dataclasses import dataclass

from switchyard.runtime.config import ServerConfig
from switchyard.runtime.errors import StartupError

ENV_PREFIX = "SWITCHYARD_CONTROLPLANE_"
DEFAULT_PORT = 50054


@dataclass(frozen=True)
class ControlPlaneConfig(ServerConfig):
    port: int = DEFAULT_PORT
    db_path: str = "var/controlplane.db"
    # Published and activated at start when the store holds no policy yet.
    seed_policy: str = ""
    # host:port of the registry; when set, PublishPolicy refuses unknown models.
    registry_address: str = ""
    # Bound on the registry lookup made at publish time.
    registry_timeout_s: float = 3.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.db_path:
            raise StartupError("db_path must not be empty")
        if self.registry_timeout_s <= 0:
            raise StartupError(f"registry_timeout_s must be > 0, got {self.registry_timeout_s}")
        if self.registry_address and ":" not in self.registry_address:
            raise StartupError(f"registry_address must be host:port, got {self.registry_address!r}")
