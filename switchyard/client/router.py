"""RouterService's typed clients, async and sync, and a request builder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from switchyard.client.channel import open_aio_channel, open_channel
from switchyard.client.config import ClientConfig
from switchyard.client.errors import raising_call_errors
from switchyard.router.v1 import router_pb2, router_pb2_grpc


def route_request(
    prompt: str | Sequence[router_pb2.ChatMessage],
    *,
    task_type: str = "",
    tier: str = "",
    tenant: str = "",
    budget_micros: int = 0,
    latency_slo_ms: int = 0,
    max_output_tokens: int = 0,
    system: str = "",
    response_format: router_pb2.ResponseFormat.ValueType = router_pb2.RESPONSE_FORMAT_UNSPECIFIED,
    metadata: Mapping[str, str] | None = None,
    idempotency_key: str = "",
) -> router_pb2.RouteRequest:
    """A RouteRequest from a prompt (one user turn) or a conversation; 0/"" = policy default."""
    if isinstance(prompt, str):
        messages = [router_pb2.ChatMessage(role="user", content=prompt)]
    else:
        messages = list(prompt)
    if system:
        messages.insert(0, router_pb2.ChatMessage(role="system", content=system))
    return router_pb2.RouteRequest(
        messages=messages,
        task_type=task_type,
        tier=tier,
        tenant=tenant,
        budget_micros=budget_micros,
        latency_slo_ms=latency_slo_ms,
        max_output_tokens=max_output_tokens,
        response_format=response_format,
        metadata=dict(metadata or {}),
        idempotency_key=idempotency_key,
    )


class AsyncRouterClient:
    """`RouterService` over grpc.aio; use `async with` or `await close()`."""

    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config or ClientConfig()
        self._channel = open_aio_channel(self.config)
        self._stub = router_pb2_grpc.RouterServiceStub(self._channel)

    async def route(
        self, request: router_pb2.RouteRequest, *, timeout_s: float | None = None
    ) -> router_pb2.RouteResponse:
        """Answer the request; the deadline bounds every stage the router runs."""
        with raising_call_errors():
            return await self._stub.Route(request, timeout=timeout_s or self.config.timeout_s)

    async def plan(
        self, request: router_pb2.RouteRequest, *, timeout_s: float | None = None
    ) -> router_pb2.PlanResponse:
        """The decision `route` would take for the request, without calling any model."""
        with raising_call_errors():
            return await self._stub.Plan(
                router_pb2.PlanRequest(request=request),
                timeout=timeout_s or self.config.timeout_s,
            )

    async def record_feedback(
        self, request_id: str, label: float, *, source: str = "", timeout_s: float | None = None
    ) -> router_pb2.RecordFeedbackResponse:
        """Attach a quality label in [0, 1] to the decision logged for `request_id`."""
        with raising_call_errors():
            return await self._stub.RecordFeedback(
                router_pb2.RecordFeedbackRequest(request_id=request_id, label=label, source=source),
                timeout=timeout_s or self.config.timeout_s,
            )

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncRouterClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class RouterClient:
    """`RouterService` over a blocking channel; use `with` or `close()`."""

    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config or ClientConfig()
        self._channel = open_channel(self.config)
        self._stub = router_pb2_grpc.RouterServiceStub(self._channel)

    def route(
        self, request: router_pb2.RouteRequest, *, timeout_s: float | None = None
    ) -> router_pb2.RouteResponse:
        with raising_call_errors():
            return self._stub.Route(request, timeout=timeout_s or self.config.timeout_s)

    def plan(
        self, request: router_pb2.RouteRequest, *, timeout_s: float | None = None
    ) -> router_pb2.PlanResponse:
        with raising_call_errors():
            return self._stub.Plan(
                router_pb2.PlanRequest(request=request),
                timeout=timeout_s or self.config.timeout_s,
            )

    def record_feedback(
        self, request_id: str, label: float, *, source: str = "", timeout_s: float | None = None
    ) -> router_pb2.RecordFeedbackResponse:
        with raising_call_errors():
            return self._stub.RecordFeedback(
                router_pb2.RecordFeedbackRequest(request_id=request_id, label=label, source=source),
                timeout=timeout_s or self.config.timeout_s,
            )

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> RouterClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
