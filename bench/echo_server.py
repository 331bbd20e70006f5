"""The floor: a bare grpc.aio unary server answering Route() with an echo.

`python -m bench.echo_server --port 0 --port-file F`. It speaks the router's method
and messages (so the same request body and clients work against both) but does no
routing: it parses the RouteRequest and returns a RouteResponse carrying the last
message. No interceptors, health, reflection or logging: what a Python gRPC service
costs before it does anything. `/bench.EchoStats/Get` returns the calls served, as
JSON, so the bench can reconcile counts; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections.abc import Sequence
from pathlib import Path

import grpc

from switchyard.router.v1 import router_pb2

ROUTE_METHOD = "/switchyard.router.v1.RouterService/Route"
STATS_METHOD = "/bench.EchoStats/Get"


class EchoCounters:
    def __init__(self) -> None:
        self.route_calls = 0


def _handlers(counters: EchoCounters) -> tuple[grpc.GenericRpcHandler, ...]:
    async def route(
        request: router_pb2.RouteRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.RouteResponse:
        counters.route_calls += 1
        text = request.messages[-1].content if request.messages else ""
        return router_pb2.RouteResponse(answer=text, model_id="echo")

    async def stats(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return json.dumps({"OK": counters.route_calls}).encode()

    return grpc.method_handlers_generic_handler(
        "switchyard.router.v1.RouterService",
        {
            "Route": grpc.unary_unary_rpc_method_handler(
                route,
                request_deserializer=router_pb2.RouteRequest.FromString,
                response_serializer=router_pb2.RouteResponse.SerializeToString,
            )
        },
    ), grpc.method_handlers_generic_handler(
        "bench.EchoStats", {"Get": grpc.unary_unary_rpc_method_handler(stats)}
    )


async def serve(host: str, port: int, port_file: str) -> None:
    counters = EchoCounters()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(_handlers(counters))
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    if port_file:
        tmp = Path(port_file + ".tmp")
        tmp.write_text(str(bound))
        tmp.replace(port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1.0)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", default="")
    args = parser.parse_args(argv)
    import uvloop  # the same event loop the services run on

    uvloop.run(serve(args.host, args.port, args.port_file))


if __name__ == "__main__":
    main()
