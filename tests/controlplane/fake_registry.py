"""A stand-in RegistryService that only pages ListModels: enough for the publish check."""

from __future__ import annotations

import grpc

from switchyard.registry.v1 import registry_pb2, registry_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import RunningServer, start_server
from switchyard.runtime.tokens import bearer_token


class PagingRegistry(registry_pb2_grpc.RegistryServiceServicer):
    """Serves `models` two per page, whatever page_size asks, to exercise paging."""

    def __init__(self, models: list[str]) -> None:
        self.models = models
        self.list_calls = 0
        self.tokens: list[str] = []  # the bearer token of each call ("" for none)

    async def ListModels(
        self, request: registry_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ListModelsResponse:
        self.list_calls += 1
        self.tokens.append(bearer_token(context.invocation_metadata()))
        start = int(request.page_token or 0)
        page = self.models[start : start + 2]
        more = start + 2 < len(self.models)
        return registry_pb2.ListModelsResponse(
            models=[registry_pb2.Model(name=f"models/{m}") for m in page],
            next_page_token=str(start + 2) if more else "",
        )


async def start_fake_registry(
    models: list[str], config: ServerConfig | None = None
) -> tuple[RunningServer, PagingRegistry]:
    servicer = PagingRegistry(models)

    def register(server: grpc.aio.Server) -> list[str]:
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(servicer, server)
        return [registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name]

    server = await start_server(
        name="registry", config=config or ServerConfig(port=0), register=register
    )
    return server, servicer
