"""Registry configuration: a frozen dataclass built once by `load_config`."""

from __future__ import annotations

import dataclasses

from switchyard.runtime.config import ServerConfig
from switchyard.runtime.errors import StartupError

ENV_PREFIX = "SWITCHYARD_REGISTRY_"
DEFAULT_PORT = 50052


@dataclasses.dataclass(frozen=True)
class RegistryConfig(ServerConfig):
    """Where the registry keeps its database and who may read or change it."""

    port: int = DEFAULT_PORT
    db_path: str = "var/registry.db"
    # Bearer tokens by scope. With all three empty, access control is off (logged at start).
    admin_tokens: tuple[str, ...] = ()
    read_tokens: tuple[str, ...] = ()
    # Read access plus ReportHealth: for routers and probes that report what they observe.
    health_tokens: tuple[str, ...] = ()
    # A watcher this many changes behind is disconnected; it resumes with since_revision.
    watch_queue_limit: int = 10_000

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.db_path:
            raise StartupError("db_path must not be empty")
        if self.watch_queue_limit < 1:
            raise StartupError(f"watch_queue_limit must be >= 1, got {self.watch_queue_limit}")
        scopes = (self.admin_tokens, self.read_tokens, self.health_tokens)
        if any(not token.strip() for tokens in scopes for token in tokens):
            raise StartupError("access tokens must not be empty strings")

    @property
    def auth_enabled(self) -> bool:
        return bool(self.admin_tokens or self.read_tokens or self.health_tokens)
