"""One router's SubscribeRouterConfig stream: send snapshots, attribute ACKs and NACKs.

The first message names the router. The current snapshot goes out at once, then one
more each time the distributor holds a newer generation. Replies are matched to what
was sent by nonce; a reply with a nonce this stream never sent is stale and ignored.
A NACK is recorded and nothing is resent: the router keeps its last good snapshot
until a newer one exists.

Routers also send reports (breakers, estimates) on the stream. A report naming another
router than the stream's, or carrying a nonce this stream did not send, is ignored and
counted. The fleet breaker view goes out whenever it changes, the merged estimates of
the other routers at most once per ESTIMATES_PUSH_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator

import structlog

from controlplane import convert, fleet_convert
from controlplane.fleet import Fleet
from controlplane.model import ReplyStatus, RouterReply, SentSnapshot, now_us
from controlplane.plane import ControlPlane
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.runtime.errors import FieldViolation, InvalidArgument

log = structlog.get_logger(__name__)

MAX_ROUTER_ID_CHARS = 128
# Nonces remembered per stream: replies to anything older are stale anyway.
SENT_REMEMBERED = 16
ESTIMATES_PUSH_S = 1.0


def check_router_id(router_id: str) -> str:
    if not router_id:
        raise InvalidArgument(
            [FieldViolation("router_id", "the first message must carry the router's id")]
        )
    if len(router_id) > MAX_ROUTER_ID_CHARS or not router_id.isprintable():
        raise InvalidArgument(
            [FieldViolation("router_id", f"at most {MAX_ROUTER_ID_CHARS} printable characters")]
        )
    return router_id


class RouterStream:
    def __init__(self, router_id: str, plane: ControlPlane) -> None:
        self.router_id = router_id
        self._plane = plane
        self._sent: OrderedDict[str, SentSnapshot] = OrderedDict()

    def _handle_report(self, report: pb.RouterReport) -> None:
        fleet = self._plane.fleet
        if report.router_id != self.router_id:
            fleet.ignore(
                router_id=self.router_id, reason="unknown_router", named=report.router_id[:128]
            )
            return
        if report.nonce not in self._sent:
            fleet.ignore(router_id=self.router_id, reason="stale_nonce", nonce=report.nonce[:64])
            return
        fleet.report(
            self.router_id,
            breakers=fleet_convert.model_reports(report),
            estimates=fleet_convert.estimate_figures(report),
        )

    async def _handle(self, request: pb.SubscribeRouterConfigRequest) -> None:
        if request.HasField("report"):
            self._handle_report(request.report)
        kind = request.WhichOneof("reply")
        if kind is None:
            return
        reply = request.ack if kind == "ack" else request.nack
        sent = self._sent.get(reply.nonce)
        if sent is None or sent.snapshot_version != reply.version:
            log.warning(
                "router.stale_reply",
                router_id=self.router_id,
                nonce=reply.nonce,
                version=reply.version,
            )
            return
        status: ReplyStatus = "ACK" if kind == "ack" else "NACK"
        error = request.nack.error_detail[:2000] if kind == "nack" else ""
        try:
            await self._plane.record_reply(
                RouterReply(self.router_id, sent, status, error, now_us())
            )
        except Exception as exc:  # the stream outlives a failed bookkeeping write
            log.error("router.reply_not_recorded", router_id=self.router_id, error=repr(exc))

    async def _read_replies(
        self,
        first: pb.SubscribeRouterConfigRequest,
        requests: AsyncIterator[pb.SubscribeRouterConfigRequest],
    ) -> None:
        await self._handle(first)
        async for request in requests:
            await self._handle(request)

    async def run(
        self,
        first: pb.SubscribeRouterConfigRequest,
        requests: AsyncIterator[pb.SubscribeRouterConfigRequest],
    ) -> AsyncIterator[pb.SubscribeRouterConfigResponse]:
        distributor = self._plane.distributor
        fleet = self._plane.fleet
        distributor.stream_opened(self.router_id)
        fleet.ensure_ticking()
        reader = asyncio.ensure_future(self._read_replies(first, requests))
        waiter: asyncio.Future | None = None
        fleet_waiter: asyncio.Future | None = None
        sent_generation = 0
        seen_change = -1  # so a router connecting to a non-empty view gets it at once
        push = FleetPush()
        log.info("router.connected", router_id=self.router_id)
        try:
            await self._plane.ledger.seen(self.router_id)
            while True:
                if waiter is None or waiter.done():
                    waiter = asyncio.ensure_future(distributor.newer_than(sent_generation))
                if fleet_waiter is None or fleet_waiter.done():
                    fleet_waiter = asyncio.ensure_future(fleet.changes.after(seen_change))
                await asyncio.wait(
                    {waiter, fleet_waiter, reader},
                    return_when=asyncio.FIRST_COMPLETED,
                    timeout=push.wait_s(),
                )
                if reader.done():
                    break  # the router closed its side of the stream
                if fleet_waiter.done():
                    if fleet_waiter.result() is None:
                        break  # draining
                    seen_change = fleet_waiter.result()
                for message in push.due(self.router_id, fleet, sent_any=bool(self._sent)):
                    yield message
                if not waiter.done():
                    continue
                state = waiter.result()
                if state is None:
                    break  # draining: the router reconnects to a live control plane
                nonce = secrets.token_hex(12)
                self._sent[nonce] = SentSnapshot(
                    snapshot_version=str(state.generation),
                    nonce=nonce,
                    active_version=state.rollout.active_version,
                    canary_version=state.rollout.canary_version,
                )
                while len(self._sent) > SENT_REMEMBERED:
                    self._sent.popitem(last=False)
                sent_generation = state.generation
                log.info(
                    "snapshot.sent",
                    router_id=self.router_id,
                    snapshot_version=state.generation,
                    nonce=nonce,
                )
                yield pb.SubscribeRouterConfigResponse(snapshot=convert.snapshot(state, nonce))
                # The fleet view follows the first snapshot (a router without a policy
                # cannot route, so there is nothing to steer before it).
                for message in push.due(self.router_id, fleet, sent_any=True):
                    yield message
        finally:
            for task in (waiter, fleet_waiter, reader):
                if task is not None and not task.done():
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            distributor.stream_closed(self.router_id)
            log.info("router.disconnected", router_id=self.router_id)


class FleetPush:
    """What of the fleet this stream has sent, and what is due."""

    def __init__(self) -> None:
        self.breakers_revision = 0
        self.estimates_revision = 0
        self.estimates_due = 0.0

    def wait_s(self) -> float | None:
        """How long the stream may sleep before pending estimates fall due."""
        if not self.estimates_due:
            return None
        return max(0.0, self.estimates_due - asyncio.get_running_loop().time())

    def due(
        self, router_id: str, fleet: Fleet, *, sent_any: bool
    ) -> list[pb.SubscribeRouterConfigResponse]:
        if not sent_any:
            return []
        out = []
        breakers = fleet.breakers
        if breakers.revision != self.breakers_revision:
            self.breakers_revision = breakers.revision
            view = fleet_convert.breaker_view(breakers.models(), breakers.revision)
            out.append(pb.SubscribeRouterConfigResponse(fleet_breakers=view))
        now = asyncio.get_running_loop().time()
        if fleet.estimates.revision != self.estimates_revision:
            if now < self.estimates_due:
                return out  # wait_s wakes the stream then
            self.estimates_revision = fleet.estimates.revision
            merged, routers = fleet.estimates.merged(excluding=router_id)
            self.estimates_due = now + ESTIMATES_PUSH_S
            if routers:
                estimates = fleet_convert.fleet_estimates(merged, routers)
                out.append(pb.SubscribeRouterConfigResponse(fleet_estimates=estimates))
        elif now >= self.estimates_due:
            self.estimates_due = 0.0
        return out


async def subscribe(
    plane: ControlPlane, requests: AsyncIterator[pb.SubscribeRouterConfigRequest]
) -> AsyncIterator[pb.SubscribeRouterConfigResponse]:
    """Serve one stream: read the router's id from the first message, then run it."""
    first = await anext(aiter(requests), None)
    if first is None:
        return
    stream = RouterStream(check_router_id(first.router_id), plane)
    async for response in stream.run(first, requests):
        yield response
