"""The control plane's access rules: operator, router and read tokens.

Operators may do everything; a router token may only open the config stream, report
what it saw and fetch the artefacts its snapshot names; a read token may only look.
Checking and errors are the runtime's (`switchyard.runtime.auth`), as the registry's.
"""

from __future__ import annotations

import enum

import grpc
import structlog

from controlplane.config import ControlPlaneConfig
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.runtime.auth import AccessRules, AuthInterceptor, TokenTable

log = structlog.get_logger(__name__)

SERVICE = pb.DESCRIPTOR.services_by_name["ControlPlaneService"].full_name


class Scope(enum.Enum):
    READ = "read"
    ROUTER = "router"
    OPERATOR = "operator"


RULES = AccessRules(
    service=SERVICE,
    method_scopes={
        "GetPolicy": Scope.READ,
        "ListPolicies": Scope.READ,
        "GetRouterConfig": Scope.READ,
        "ListRouters": Scope.READ,
        "GetRolloutStatus": Scope.READ,
        "ListArtefacts": Scope.READ,
        "ListBreakers": Scope.READ,
        "SubscribeRouterConfig": Scope.ROUTER,
        "ReportRolloutStats": Scope.ROUTER,
        "GetArtefact": Scope.ROUTER,
    },
    # Publish, SetRollout, SetShadow, PromoteCanary, RollbackPolicy, SetBreakerOverride,
    # UploadArtefact and any RPC added later without a line above.
    default_scope=Scope.OPERATOR,
    grants={
        Scope.OPERATOR: frozenset(Scope),
        Scope.ROUTER: frozenset({Scope.ROUTER}),
        Scope.READ: frozenset({Scope.READ}),
    },
)


def token_table(config: ControlPlaneConfig) -> TokenTable[Scope]:
    return TokenTable(
        RULES,
        {
            Scope.OPERATOR: config.operator_tokens,
            Scope.ROUTER: config.router_tokens,
            Scope.READ: config.read_tokens,
        },
    )


def interceptors(config: ControlPlaneConfig) -> list[grpc.aio.ServerInterceptor]:
    tokens = token_table(config)
    if not tokens.enabled:
        log.warning(
            "auth.disabled",
            detail="no operator/router/read tokens configured: anyone who can reach the port "
            "may publish policies; set SWITCHYARD_CONTROLPLANE_OPERATOR_TOKENS and ROUTER_TOKENS",
        )
        return []
    return [AuthInterceptor(tokens)]
