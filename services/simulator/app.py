"""The simulator's HTTP application: OpenAI and Anthropic endpoints, health, admin.

Handlers are thin: parse the wire format, let the `SimulatedModel` decide the reply,
sleep for its simulated latency, serialise. Nothing here logs per request, so instant
models stay fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from services.simulator import admin, wire
from services.simulator.engine import ChatCall, Fleet, ReplyKind, SimulatedReply
from switchyard.runtime.errors import StartupError

FLEET = web.AppKey("fleet", Fleet)
_JSON = "application/json"
_CREATED = int(time.time())


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=wire.dumps(payload), status=status, content_type=_JSON, headers=headers
    )


async def _read_json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except ValueError as exc:
        raise wire.WireError(400, f"request body is not valid JSON: {exc}") from exc


async def _simulate(
    request: web.Request,
    parse: Callable[[Any], ChatCall],
) -> tuple[ChatCall, SimulatedReply]:
    """Parse, look up the model, decide the reply and wait out its latency."""
    call = parse(await _read_json(request))
    model = request.app[FLEET].get(call.model)
    if model is None:
        raise wire.WireError(404, f"The model `{call.model}` does not exist", "model")
    traceparent = request.headers.get("traceparent")
    if traceparent:
        model.saw_traceparent(traceparent)
    if request.headers.get("X-Switchyard-Health-Check"):
        # Counted in `requests` too; tests tell the router's health checks from traffic.
        model.counters["health_checks"] += 1
    reply = model.respond(call)
    if reply.delay_s > 0:
        model.counters["in_flight"] += 1
        try:
            await asyncio.sleep(reply.delay_s)
        except asyncio.CancelledError:
            # The client hung up mid-call (aiohttp cancels the handler, see
            # start_simulator): a real server stops generating, and tests check that
            # a router's cancelled calls really end here.
            model.counters["cancelled"] += 1
            raise
        finally:
            model.counters["in_flight"] -= 1
    return call, reply


async def chat_completions(request: web.Request) -> web.Response:
    """POST /v1/chat/completions (OpenAI format)."""
    try:
        call, reply = await _simulate(request, wire.parse_openai)
    except wire.WireError as exc:
        code = "model_not_found" if exc.status == 404 else None
        return _json(
            wire.openai_error(exc.status, exc.message, param=exc.param, code=code), exc.status
        )
    if reply.kind is ReplyKind.ANSWER:
        return _json(wire.openai_completion(reply, call.model))
    if reply.kind is ReplyKind.MALFORMED:
        body, kind = wire.OPENAI_MALFORMED[reply.variant % len(wire.OPENAI_MALFORMED)]
        return web.Response(body=body, content_type=_JSON if kind == "json" else "text/html")
    code = "context_length_exceeded" if reply.status == 400 else None
    return _json(
        wire.openai_error(reply.status, reply.error_message, code=code),
        reply.status,
        wire.retry_after_headers(reply.retry_after_s),
    )


async def messages(request: web.Request) -> web.Response:
    """POST /v1/messages (Anthropic Messages format)."""
    try:
        call, reply = await _simulate(request, wire.parse_anthropic)
    except wire.WireError as exc:
        return _json(wire.anthropic_error(exc.status, exc.message), exc.status)
    if reply.kind is ReplyKind.ANSWER:
        return _json(wire.anthropic_message(reply, call.model))
    if reply.kind is ReplyKind.MALFORMED:
        body, kind = wire.ANTHROPIC_MALFORMED[reply.variant % len(wire.ANTHROPIC_MALFORMED)]
        return web.Response(body=body, content_type=_JSON if kind == "json" else "text/html")
    return _json(
        wire.anthropic_error(reply.status, reply.error_message),
        reply.status,
        wire.retry_after_headers(reply.retry_after_s),
    )


async def list_models(request: web.Request) -> web.Response:
    """GET /v1/models (OpenAI format)."""
    data = [
        {"id": name, "object": "model", "created": _CREATED, "owned_by": "switchyard-simulator"}
        for name in request.app[FLEET].models
    ]
    return _json({"object": "list", "data": data})


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: 200 while serving, 503 once draining (load balancers stop sending)."""
    fleet = request.app[FLEET]
    if fleet.draining:
        return _json({"status": "draining"}, 503)
    return _json({"status": "ok", "models": len(fleet.models)})


def create_app(fleet: Fleet) -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[FLEET] = fleet
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/messages", messages)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/healthz", healthz)
    admin.add_routes(app, FLEET)
    return app


async def start_simulator(
    fleet: Fleet,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    grace_s: float = 5.0,
    reuse_port: bool = False,
) -> tuple[web.AppRunner, int]:
    """Bind and start serving; returns the runner (for `cleanup()`) and the bound port.

    StartupError when the address cannot be bound.
    """
    # handler_cancellation: a client that disconnects cancels its handler's wait, as a
    # model server aborts generation (the counters' `cancelled`).
    runner = web.AppRunner(
        create_app(fleet), access_log=None, shutdown_timeout=grace_s, handler_cancellation=True
    )
    await runner.setup()
    # reuse_port lets several simulator processes share one port (bench at scale).
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(f"cannot bind {host}:{port}: {exc.strerror or exc}") from exc
    return runner, runner.addresses[0][1]
