"""The registry's model ids, fetched at publish time so a policy cannot name a ghost model.

Publishing is rare and must be right, so the ids are read fresh each time (paging
through ListModels) rather than cached: a model deleted a second ago is refused.
"""

from __future__ import annotations

import grpc

from switchyard.registry.v1 import registry_pb2, registry_pb2_grpc
from switchyard.runtime.errors import Unavailable
from switchyard.runtime.tls import TlsConfig, open_upstream_channel

PAGE_SIZE = 500
# A guard against a registry that keeps returning tokens: 1000 pages of 500 is plenty.
MAX_PAGES = 1000
MODEL_PREFIX = "models/"


class RegistryModels:
    def __init__(
        self,
        address: str,
        *,
        timeout_s: float = 3.0,
        tls: TlsConfig | None = None,
        token: str = "",
    ) -> None:
        self.address = address
        self._timeout_s = timeout_s
        self._tls = tls
        self._token = token
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._channel: grpc.aio.Channel | None = None

    def _stub(self) -> registry_pb2_grpc.RegistryServiceStub:
        if self._channel is None:
            self._channel = open_upstream_channel(self.address, self._tls, token=self._token)
        return registry_pb2_grpc.RegistryServiceStub(self._channel)

    async def model_ids(self) -> frozenset[str]:
        """Every model id in the registry; Unavailable when it cannot be read in time."""
        stub = self._stub()
        ids: set[str] = set()
        token = ""
        try:
            for _ in range(MAX_PAGES):
                response = await stub.ListModels(
                    registry_pb2.ListModelsRequest(page_size=PAGE_SIZE, page_token=token),
                    timeout=self._timeout_s,
                    metadata=self._metadata,
                )
                ids.update(m.name.removeprefix(MODEL_PREFIX) for m in response.models)
                token = response.next_page_token
                if not token:
                    return frozenset(ids)
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(
                f"cannot check models against the registry at {self.address}:"
                f" {exc.code().name} {exc.details()}; nothing was stored",
                retry_after_s=2.0,
            ) from exc
        raise Unavailable(f"the registry at {self.address} never finished paging its models")

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()
