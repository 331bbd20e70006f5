"""The artefact, canary-guard and shadow RPCs of ControlPlaneService: protos in and out.

A mixin of `ControlPlaneServicer`, kept apart so the policy RPCs stay readable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from controlplane import convert, rollout_convert
from controlplane.guard import VersionCounts
from controlplane.plane import ANONYMOUS, MAX_AUTHOR_CHARS, ControlPlane
from controlplane.rollout_control import RolloutStatus, RouterReport, shadow_p95
from controlplane.rollout_store import PromotionRecord
from controlplane.stream import check_router_id
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.runtime.errors import FieldViolation, InvalidArgument


def _author(author: str) -> str:
    if len(author) > MAX_AUTHOR_CHARS:
        raise InvalidArgument([FieldViolation("author", f"at most {MAX_AUTHOR_CHARS} characters")])
    return author or ANONYMOUS


def promotion(record: PromotionRecord, waiting_for: str = "") -> pb.Promotion:
    return pb.Promotion(
        canary_version=record.canary_version,
        steps=list(record.steps),
        next_step=record.next_step,
        next_step_time=convert.timestamp(record.next_step_us),
        step_interval_s=record.step_interval_s,
        waiting_for=waiting_for,
    )


def _shadow_stats(message: pb.ShadowStats) -> dict[str, object]:
    names = [f.name for f in pb.ShadowStats.DESCRIPTOR.fields]
    return {
        n: list(getattr(message, n)) if n.endswith("_buckets") else getattr(message, n)
        for n in names
        if n not in ("shadow_version", "active_version")
    }


def _per_1k(cost: object, count: object) -> int:
    return round(int(cost) * 1000 / int(count)) if int(count) else 0  # type: ignore[arg-type]


def _rate(part: object, whole: object) -> float:
    return int(part) / int(whole) if int(whole) else 0.0  # type: ignore[arg-type]


def rollout_status(status: RolloutStatus) -> pb.GetRolloutStatusResponse:
    state = status.state
    response = pb.GetRolloutStatusResponse(
        rollout=rollout_convert.fill_rollout(convert.rollout(state.rollout), state),
        versions=[
            rollout_convert.figures(v.version, v.role, v.counts, share=v.share, routers=v.routers)
            for v in status.versions
        ],
        events=[
            pb.RolloutEvent(
                generation=e["generation"],
                action=e["action"],
                detail=e["detail"],
                author=e["author"],
                time=convert.timestamp(e["time_us"]),
            )
            for e in status.events
        ],
        guard_verdict=status.guard_verdict,
    )
    if status.promotion is not None:
        response.promotion.CopyFrom(promotion(status.promotion, status.waiting_for))
    if status.shadow is not None:
        s = status.shadow
        get = s.get
        response.shadow.CopyFrom(
            pb.ShadowComparison(
                shadow_version=state.shadow.version,
                active_version=state.rollout.active_version,
                compared=int(get("compared", 0)),  # type: ignore[arg-type]
                agreement_rate=_rate(get("agreed", 0), get("compared", 0)),
                executed=int(get("executed", 0)),  # type: ignore[arg-type]
                shadow_cost_micros_per_1k=_per_1k(get("shadow_cost_micros", 0), get("executed", 0)),
                active_cost_micros_per_1k=_per_1k(get("active_cost_micros", 0), get("executed", 0)),
                shadow_p95_latency_ms=shadow_p95(get("shadow_latency_buckets")),
                active_p95_latency_ms=shadow_p95(get("active_latency_buckets")),
                shadow_acceptance=_rate(get("shadow_accepted", 0), get("shadow_verified", 0)),
                active_acceptance=_rate(get("active_accepted", 0), get("active_verified", 0)),
                shadow_verified=int(get("shadow_verified", 0)),  # type: ignore[arg-type]
            )
        )
    return response


class RolloutRpcs:
    """UploadArtefact, GetArtefact, ListArtefacts, ReportRolloutStats, GetRolloutStatus,
    PromoteCanary and SetShadow."""

    _plane: ControlPlane

    async def UploadArtefact(
        self, request: pb.UploadArtefactRequest, context: grpc.aio.ServicerContext
    ) -> pb.UploadArtefactResponse:
        record, created = await self._plane.artefacts.upload(
            name=request.name,
            kind=rollout_convert.ARTEFACT_KINDS.get(request.kind),
            content=request.content,
            sha256=request.sha256,
            author=_author(request.author),
        )
        return pb.UploadArtefactResponse(artefact=rollout_convert.artefact(record), created=created)

    async def GetArtefact(
        self, request: pb.GetArtefactRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.GetArtefactResponse]:
        async for offset, data, size in self._plane.artefacts.chunks(request.digest):
            yield pb.GetArtefactResponse(data=data, offset=offset, size_bytes=size)

    async def ListArtefacts(
        self, request: pb.ListArtefactsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListArtefactsResponse:
        page = await self._plane.artefacts.list(
            page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListArtefactsResponse(
            artefacts=[rollout_convert.artefact(a) for a in page.artefacts],
            next_page_token=page.next_page_token,
        )

    async def ReportRolloutStats(
        self, request: pb.ReportRolloutStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReportRolloutStatsResponse:
        versions: dict[int, VersionCounts] = {}
        for stats in request.versions:
            versions[stats.policy_version] = rollout_convert.counts_from_proto(stats)
        rolled_back = await self._plane.rollout.report(
            RouterReport(
                router_id=check_router_id(request.router_id),
                boot_id=request.boot_id,
                versions=versions,
                shadows={
                    (s.shadow_version, s.active_version): _shadow_stats(s) for s in request.shadows
                },
            )
        )
        return pb.ReportRolloutStatsResponse(canary_rolled_back=rolled_back)

    async def GetRolloutStatus(
        self, request: pb.GetRolloutStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetRolloutStatusResponse:
        return rollout_status(await self._plane.rollout.status())

    async def PromoteCanary(
        self, request: pb.PromoteCanaryRequest, context: grpc.aio.ServicerContext
    ) -> pb.PromoteCanaryResponse:
        record = await self._plane.rollout.promote(
            steps=list(request.steps),
            step_interval_s=request.step_interval_s,
            author=_author(request.author),
        )
        return pb.PromoteCanaryResponse(promotion=promotion(record))

    async def SetShadow(
        self, request: pb.SetShadowRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetShadowResponse:
        state = await self._plane.rollout.set_shadow(
            rollout_convert.shadow_from_proto(request.shadow), author=_author(request.author)
        )
        return pb.SetShadowResponse(
            rollout=rollout_convert.fill_rollout(convert.rollout(state.rollout), state)
        )
