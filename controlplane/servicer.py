"""ControlPlaneService: protos in, `ControlPlane` calls, protos out. Nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from controlplane import convert, fleet_convert
from controlplane.plane import ControlPlane
from controlplane.rollout_convert import guard_from_proto
from controlplane.rollout_servicer import RolloutRpcs
from controlplane.stream import subscribe
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.controlplane.v1 import controlplane_pb2_grpc as pb_grpc
from switchyard.runtime.errors import FieldViolation, InvalidArgument
from switchyard.runtime.server import Registrar

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ControlPlaneService"].full_name


class ControlPlaneServicer(RolloutRpcs, pb_grpc.ControlPlaneServiceServicer):
    def __init__(self, plane: ControlPlane) -> None:
        self._plane = plane

    async def PublishPolicy(
        self, request: pb.PublishPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.PublishPolicyResponse:
        published = await self._plane.publish(
            source=request.source,
            author=request.author,
            message=request.message,
            validate_only=request.validate_only,
            activate=request.activate,
        )
        return pb.PublishPolicyResponse(
            policy=convert.policy_version(published.policy), active=published.active
        )

    async def GetPolicy(
        self, request: pb.GetPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPolicyResponse:
        record, active = await self._plane.get(request.version)
        return pb.GetPolicyResponse(policy=convert.policy_version(record), active=active)

    async def ListPolicies(
        self, request: pb.ListPoliciesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPoliciesResponse:
        records, token, active = await self._plane.list(
            page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListPoliciesResponse(
            policies=[convert.policy_version(r) for r in records],
            next_page_token=token,
            active_version=active,
        )

    async def RollbackPolicy(
        self, request: pb.RollbackPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.RollbackPolicyResponse:
        record = await self._plane.rollback(request.version, author=request.author)
        return pb.RollbackPolicyResponse(policy=convert.policy_version(record))

    async def SubscribeRouterConfig(
        self,
        request_iterator: AsyncIterator[pb.SubscribeRouterConfigRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.SubscribeRouterConfigResponse]:
        async for response in subscribe(self._plane, request_iterator):
            yield response

    async def SetRollout(
        self, request: pb.SetRolloutRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetRolloutResponse:
        split = await self._plane.set_rollout(
            canary_version=request.canary_version,
            percent=request.canary_percent,
            author=request.author,
            guard=guard_from_proto(request.guard) if request.HasField("guard") else None,
        )
        return pb.SetRolloutResponse(rollout=convert.rollout(split))

    async def SetBreakerOverride(
        self, request: pb.SetBreakerOverrideRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetBreakerOverrideResponse:
        if request.override not in convert.BREAKER_REQUESTS:
            raise InvalidArgument(
                [
                    FieldViolation(
                        "override", "FORCED_OPEN, FORCED_CLOSED, DRAIN or NONE (to remove)"
                    )
                ]
            )
        overrides = await self._plane.set_breaker_override(
            model_id=request.model_id,
            state=convert.BREAKER_REQUESTS[request.override],
            author=request.author,
            reason=request.reason,
        )
        return pb.SetBreakerOverrideResponse(
            breaker_overrides=[convert.breaker_override(o) for o in overrides]
        )

    async def GetRouterConfig(
        self, request: pb.GetRouterConfigRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetRouterConfigResponse:
        return pb.GetRouterConfigResponse(
            snapshot=convert.snapshot(self._plane.distributor.current, nonce="")
        )

    async def ListRouters(
        self, request: pb.ListRoutersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListRoutersResponse:
        page = await self._plane.routers(page_size=request.page_size, page_token=request.page_token)
        return pb.ListRoutersResponse(
            routers=[
                convert.router_status(
                    r,
                    connected=r.router_id in page.connected,
                    current=page.current_snapshot_version,
                )
                for r in page.routers
            ],
            next_page_token=page.next_page_token,
            current_snapshot_version=str(page.current_snapshot_version),
        )

    async def ListBreakers(
        self, request: pb.ListBreakersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBreakersResponse:
        page = await self._plane.breakers(
            page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListBreakersResponse(
            breakers=[
                fleet_convert.breaker_status(e.model_id, e.fleet, e.override, page.connected)
                for e in page.entries
            ],
            next_page_token=page.next_page_token,
            ignored_unknown_router_reports=page.ignored_unknown_router,
            ignored_stale_nonce_reports=page.ignored_stale_nonce,
        )


def registrar(plane: ControlPlane) -> Registrar:
    """The `register` callback for serve()/start_server()."""

    def register(server: grpc.aio.Server) -> list[str]:
        pb_grpc.add_ControlPlaneServiceServicer_to_server(ControlPlaneServicer(plane), server)
        return [SERVICE_NAME]

    return register
