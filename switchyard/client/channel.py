"""Channels with the config's TLS, retries, token and default deadline, for any stub."""

from __future__ import annotations

from typing import Any, NamedTuple

import grpc

from switchyard.client.config import ClientConfig


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class _SyncDefaults(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds the config's metadata to every call and its deadline to unary calls.

    Streams (watches, the router's config stream) stay open as long as they are wanted,
    so they get a deadline only when the caller gives one.
    """

    def __init__(self, config: ClientConfig) -> None:
        self._metadata = config.call_metadata()
        self._timeout_s = config.timeout_s

    def _details(self, details: Any, *, unary: bool) -> _CallDetails:
        timeout = details.timeout
        if timeout is None and unary:
            timeout = self._timeout_s
        return _CallDetails(
            details.method,
            timeout,
            (*(details.metadata or ()), *self._metadata),
            details.credentials,
            details.wait_for_ready,
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details, unary=True), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details, unary=False), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details, unary=True), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details, unary=False), requests)


class _AioDefaults(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    """The asyncio twin of `_SyncDefaults`."""

    def __init__(self, config: ClientConfig) -> None:
        self._metadata = config.call_metadata()
        self._timeout_s = config.timeout_s

    def _details(self, details: Any, *, unary: bool) -> Any:
        timeout = details.timeout
        if timeout is None and unary:
            timeout = self._timeout_s
        metadata = grpc.aio.Metadata(*(details.metadata or ()), *self._metadata)
        return details._replace(timeout=timeout, metadata=metadata)

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details, unary=True), request)

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details, unary=False), request)

    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details, unary=True), requests)

    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details, unary=False), requests)


def open_channel(config: ClientConfig) -> grpc.Channel:
    """A blocking channel with the config's TLS, retries, token and default deadline."""
    options = config.channel_options()
    if config.tls is not None:
        channel = grpc.secure_channel(config.address, config.tls.credentials(), options)
    else:
        channel = grpc.insecure_channel(config.address, options)
    return grpc.intercept_channel(channel, _SyncDefaults(config))


def open_aio_channel(config: ClientConfig) -> grpc.aio.Channel:
    """The asyncio channel; open it inside the event loop that will use it."""
    options = config.channel_options()
    interceptors = [_AioDefaults(config)]
    if config.tls is not None:
        return grpc.aio.secure_channel(
            config.address, config.tls.credentials(), options, interceptors=interceptors
        )
    return grpc.aio.insecure_channel(config.address, options, interceptors=interceptors)
