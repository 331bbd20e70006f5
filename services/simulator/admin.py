"""Run-time admin endpoints: inspect models, inject and clear faults.

GET    /admin/models                 every model: profile, active faults, counters and
                                     the traceparent headers of its latest calls
GET    /admin/models/{name}          one model
PUT    /admin/models/{name}/faults   replace that model's faults (JSON body)
DELETE /admin/models/{name}/faults   back to the profile from the models file
"""

from __future__ import annotations

import json

import structlog
from aiohttp import web

from services.simulator import wire
from services.simulator.engine import Fleet, SimulatedModel
from services.simulator.faults import parse_faults
from switchyard.runtime.errors import FieldViolation, InvalidArgument

log = structlog.get_logger(__name__)


def _error(status: int, message: str, violations: list[FieldViolation] = ()) -> web.Response:
    body = wire.openai_error(status, message)
    if violations:
        body["error"]["field_violations"] = [
            {"field": v.field, "description": v.description} for v in violations
        ]
    return web.json_response(body, status=status)


def add_routes(app: web.Application, fleet_key: web.AppKey[Fleet]) -> None:
    def model_of(request: web.Request) -> SimulatedModel:
        name = request.match_info["name"]
        model = request.app[fleet_key].get(name)
        if model is None:
            raise web.HTTPNotFound(
                text=wire.dumps(
                    wire.openai_error(404, f"no simulated model named {name!r}")
                ).decode(),
                content_type="application/json",
            )
        return model

    async def list_models(request: web.Request) -> web.Response:
        fleet = request.app[fleet_key]
        replay = None
        if fleet.replay is not None:
            replay = {
                "datasets": list(fleet.replay.datasets),
                "replayed": sum(m.counters["replayed"] for m in fleet.models.values()),
                "misses": sum(m.counters["replay_misses"] for m in fleet.models.values()),
            }
        return web.json_response(
            {
                "seed": fleet.seed,
                "replay": replay,
                "models": [m.snapshot() for m in fleet.models.values()],
            }
        )

    async def get_model(request: web.Request) -> web.Response:
        return web.json_response(model_of(request).snapshot())

    async def put_faults(request: web.Request) -> web.Response:
        model = model_of(request)
        try:
            body = json.loads(await request.read())
        except ValueError as exc:
            return _error(
                400, f"body is not valid JSON: {exc}", [FieldViolation("body", "not JSON")]
            )
        try:
            faults = parse_faults(body, base_error_rate=model.profile.error_rate)
        except InvalidArgument as exc:
            return _error(400, exc.message, exc.violations)
        model.faults = faults
        log.info("faults.set", model=model.profile.name, **faults.as_dict())
        return web.json_response(model.snapshot())

    async def delete_faults(request: web.Request) -> web.Response:
        model = model_of(request)
        model.reset_faults()
        log.info("faults.reset", model=model.profile.name)
        return web.json_response(model.snapshot())

    app.router.add_get("/admin/models", list_models)
    app.router.add_get("/admin/models/{name}", get_model)
    app.router.add_put("/admin/models/{name}/faults", put_faults)
    app.router.add_delete("/admin/models/{name}/faults", delete_faults)
