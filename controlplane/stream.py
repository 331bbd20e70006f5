"""One router's SubscribeRouterConfig stream: send snapshots, attribute ACKs and NACKs.

The first message names the router. The current snapshot goes out at once, then one
more each time the distributor holds a newer generation. Replies are matched to what
was sent by nonce; a reply with a nonce this stream never sent is stale and ignored.
A NACK is recorded and nothing is resent: the router keeps its last good snapshot
until a newer one exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator

import structlog

from controlplane import convert
from controlplane.model import ReplyStatus, RouterReply, SentSnapshot, now_us
from controlplane.plane import ControlPlane
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.runtime.errors import FieldViolation, InvalidArgument

log = structlog.get_logger(__name__)

MAX_ROUTER_ID_CHARS = 128
# Nonces remembered per stream: replies to anything older are stale anyway.
SENT_REMEMBERED = 16


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

    async def _handle(self, request: pb.SubscribeRouterConfigRequest) -> None:
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
        distributor.stream_opened(self.router_id)
        reader = asyncio.ensure_future(self._read_replies(first, requests))
        waiter: asyncio.Future | None = None
        sent_generation = 0
        log.info("router.connected", router_id=self.router_id)
        try:
            await self._plane.ledger.seen(self.router_id)
            while True:
                waiter = asyncio.ensure_future(distributor.newer_than(sent_generation))
                await asyncio.wait({waiter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if not waiter.done():
                    break  # the router closed its side of the stream
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
        finally:
            for task in (waiter, reader):
                if task is not None and not task.done():
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            distributor.stream_closed(self.router_id)
            log.info("router.disconnected", router_id=self.router_id)


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
