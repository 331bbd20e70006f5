"""The registry's access rules: bearer tokens with read, health and admin scopes.

Scopes are ordered: read < health (read + ReportHealth) < admin (all). The checking
itself (UNAUTHENTICATED / PERMISSION_DENIED, the interceptor) is the runtime's, shared
with the control plane (`switchyard.runtime.auth`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from services.registry.config import RegistryConfig
from switchyard.registry.v1 import registry_pb2
from switchyard.runtime import auth
from switchyard.runtime.auth import AuthInterceptor, actor_of
from switchyard.runtime.tokens import bearer_token, fingerprint

__all__ = ["AuthInterceptor", "Scope", "TokenTable", "actor_of", "bearer_token", "fingerprint"]

SERVICE = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name


class Scope(enum.IntEnum):
    READ = 1
    HEALTH = 2
    ADMIN = 3


RULES = auth.AccessRules(
    service=SERVICE,
    method_scopes={
        "GetModel": Scope.READ,
        "ListModels": Scope.READ,
        "ListModelRevisions": Scope.READ,
        "WatchModels": Scope.READ,
        "ReportHealth": Scope.HEALTH,
    },
    default_scope=Scope.ADMIN,
    grants={held: frozenset(s for s in Scope if s <= held) for held in Scope},
)


def required_scope(method: str) -> Scope:
    """The scope a full method name needs; anything not known to read is a write."""
    return RULES.required_scope(method)


class TokenTable(auth.TokenTable[Scope]):
    def __init__(
        self,
        *,
        admin: Sequence[str] = (),
        health: Sequence[str] = (),
        read: Sequence[str] = (),
    ) -> None:
        super().__init__(RULES, {Scope.ADMIN: admin, Scope.HEALTH: health, Scope.READ: read})

    @classmethod
    def from_config(cls, config: RegistryConfig) -> TokenTable:
        return cls(admin=config.admin_tokens, health=config.health_tokens, read=config.read_tokens)

    def scope_of(self, token: str) -> Scope | None:
        """The highest scope granted to `token`."""
        return max(self.scopes_of(token), default=None)
