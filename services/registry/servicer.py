"""RegistryService over gRPC: translates requests to store calls and back, nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import structlog

from services.registry.auth import actor_of
from services.registry.listing import decode_page_token, encode_page_token, list_page, page_size_of
from services.registry.notifier import WatcherFellBehind
from services.registry.store import ModelStore
from services.registry.updates import model_id_of, new_profile, updated_profile
from services.registry.validation import health_violations
from switchyard.fleet import changed_fields
from switchyard.registry.v1 import registry_pb2, registry_pb2_grpc
from switchyard.runtime.errors import AlreadyExists, FieldViolation, InvalidArgument, Unavailable

log = structlog.get_logger(__name__)

SERVICE_NAME = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name
# Resuming watchers read history in chunks so a long gap never loads at once.
_RESUME_CHUNK = 500


def _required_name(name: str, field: str = "name") -> str:
    if not name:
        raise InvalidArgument([FieldViolation(field, "required: models/{model_id}")])
    model_id_of(name, field)
    return name


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, store: ModelStore) -> None:
        self._store = store

    async def GetModel(
        self, request: registry_pb2.GetModelRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.GetModelResponse:
        name = _required_name(request.name)
        return registry_pb2.GetModelResponse(model=self._store.get(name))

    async def ListModels(
        self, request: registry_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ListModelsResponse:
        page, next_token = list_page(
            self._store.models(),
            page_size=request.page_size,
            page_token=request.page_token,
            filter_text=request.filter,
        )
        return registry_pb2.ListModelsResponse(models=page, next_page_token=next_token)

    async def CreateModel(
        self, request: registry_pb2.CreateModelRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.CreateModelResponse:
        model = new_profile(request.model_id, request.model)
        if request.validate_only:
            if self._store.find(model.name) is not None:
                raise AlreadyExists(f"model {model.name} already exists")
            return registry_pb2.CreateModelResponse(model=model)
        stored = await self._store.create(model, actor=actor_of(context.invocation_metadata()))
        log.info("model.created", model=stored.name, revision=stored.revision)
        return registry_pb2.CreateModelResponse(model=stored)

    async def UpdateModel(
        self, request: registry_pb2.UpdateModelRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.UpdateModelResponse:
        name = _required_name(request.model.name, "model.name")

        def build(current: registry_pb2.Model) -> tuple[registry_pb2.Model, list[str]]:
            updated = updated_profile(current, request.model, request.update_mask)
            return updated, changed_fields(current, updated)

        if request.validate_only:
            updated, _ = build(self._store.check_etag(name, request.model.etag))
            return registry_pb2.UpdateModelResponse(model=updated)
        stored = await self._store.update(
            name,
            build,
            expected_etag=request.model.etag,
            actor=actor_of(context.invocation_metadata()),
        )
        log.info("model.updated", model=name, revision=stored.revision)
        return registry_pb2.UpdateModelResponse(model=stored)

    async def DeleteModel(
        self, request: registry_pb2.DeleteModelRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.DeleteModelResponse:
        name = _required_name(request.name)
        if request.validate_only:
            self._store.check_etag(name, request.etag)
            return registry_pb2.DeleteModelResponse()
        await self._store.delete(
            name, expected_etag=request.etag, actor=actor_of(context.invocation_metadata())
        )
        log.info("model.deleted", model=name)
        return registry_pb2.DeleteModelResponse()

    async def ReportHealth(
        self, request: registry_pb2.ReportHealthRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ReportHealthResponse:
        name = _required_name(request.name)
        violations = health_violations(request.health)
        if violations:
            raise InvalidArgument(violations)
        actor = actor_of(context.invocation_metadata())
        health = registry_pb2.Health()
        health.CopyFrom(request.health)
        if not health.source:
            health.source = actor
        stored = await self._store.report_health(name, health, actor=actor)
        return registry_pb2.ReportHealthResponse(model=stored)

    async def ListModelRevisions(
        self, request: registry_pb2.ListModelRevisionsRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ListModelRevisionsResponse:
        if request.name:
            _required_name(request.name)
        size = page_size_of(request.page_size)
        before = decode_page_token(request.page_token, request.name, int) or 0
        revisions = await self._store.revisions(name=request.name, before=before, limit=size + 1)
        next_token = ""
        if len(revisions) > size:
            revisions = revisions[:size]
            next_token = encode_page_token(revisions[-1].revision, request.name)
        return registry_pb2.ListModelRevisionsResponse(
            revisions=revisions, next_page_token=next_token
        )

    async def WatchModels(
        self, request: registry_pb2.WatchModelsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[registry_pb2.WatchModelsResponse]:
        since = request.since_revision
        if since < 0:
            raise InvalidArgument([FieldViolation("since_revision", "must not be negative")])
        start = self._store.watch()
        log.info("watch.started", since_revision=since, revision=start.revision)
        try:
            if since == 0 or since > start.revision:
                # A client ahead of us (e.g. the database was restored) resyncs from scratch.
                yield registry_pb2.WatchModelsResponse(snapshot=start.snapshot)
            else:
                after = since
                while after < start.revision:
                    chunk = await self._store.revisions_between(
                        after, start.revision, _RESUME_CHUNK
                    )
                    if not chunk:
                        break
                    for change in chunk:
                        yield registry_pb2.WatchModelsResponse(change=change)
                    after = chunk[-1].revision
            async for change in start.subscription.changes():
                yield registry_pb2.WatchModelsResponse(change=change)
        except WatcherFellBehind:
            raise Unavailable(
                "watcher fell behind; reconnect with since_revision set to the last revision seen",
                retry_after_s=0.0,
            ) from None
        finally:
            self._store.unwatch(start.subscription)
