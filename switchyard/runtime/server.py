"""`serve()`: the one way every Switchyard gRPC service starts and stops.

Health (`grpc.health.v1`), server reflection, the service interceptor, metrics, TLS or
mutual TLS when the config names certificate files, OpenTelemetry tracing when it names
an OTLP endpoint, and two-stage shutdown: the first
SIGTERM/SIGINT marks every service NOT_SERVING and drains in-flight calls for up to
`grace_s`; a second signal exits at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from switchyard.runtime.config import ServerConfig
from switchyard.runtime.errors import StartupError
from switchyard.runtime.files import write_atomically
from switchyard.runtime.interceptors import Instrumentation, InstrumentedServer
from switchyard.runtime.logging import configure_logging
from switchyard.runtime.metrics import observe_gc_pauses, start_metrics_endpoint
from switchyard.runtime.shutdown import wait_for_stop_signal
from switchyard.runtime.tls import server_credentials
from switchyard.runtime.tracing import Tracing
from switchyard.runtime.workers import (
    WorkerExited,
    WorkerGroup,
    check_workers,
    stop_when_orphaned,
    supervisor_pid,
)

log = structlog.get_logger("switchyard.server")

# Registers servicers on the server; returns the full names of the services it added.
Registrar = Callable[[grpc.aio.Server], Sequence[str]]
Hook = Callable[[], Awaitable[None]]

# Young-generation collections every 10k allocations instead of 700: requests create
# many short-lived objects, and most die before any collection would look at them.
GC_GEN0_THRESHOLD = 10_000
WORKER_START_TIMEOUT_S = 30.0


@dataclass
class RunningServer:
    """A started server: its bound port and the handles needed to stop it."""

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: Sequence[str]
    on_stop: list[Hook] = field(default_factory=list)
    # Run after NOT_SERVING, before the drain: end long-lived streams (watches,
    # subscriptions) so they do not hold the drain for the whole grace period.
    on_drain: list[Hook] = field(default_factory=list)
    # Tasks that live as long as the server (worker watchers); cancelled at stop.
    background: list[asyncio.Task[None]] = field(default_factory=list)

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in (*self.service_names, ""):
            await self.health.set(name, status)

    async def stop(self, grace_s: float) -> None:
        """Stop accepting, drain in-flight calls for up to grace_s, then run stop hooks."""
        # NOT_SERVING for good: a late set_serving(True) cannot flip it back.
        await self.health.enter_graceful_shutdown()
        for hook in self.on_drain:
            await hook()
        await self.server.stop(grace_s)
        for hook in self.on_stop:
            await hook()


def check_bindable(host: str, port: int, *, reuse_port: bool) -> None:
    """Fail with a clear one-line error before gRPC core tries (and logs its own)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StartupError(f"cannot bind {host}:{port}: {exc.strerror}") from exc


def settle_garbage_collector() -> None:
    """Move everything allocated at startup out of the collector's sight and collect
    young objects less often: full collections over long-lived startup objects are
    what makes tail-latency spikes in a busy Python server."""
    observe_gc_pauses()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])


async def start_server(
    *,
    name: str,
    config: ServerConfig,
    register: Registrar,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    serving: bool = True,
    tracing: Tracing | None = None,
    local_addresses: Sequence[str] = (),
) -> RunningServer:
    """Start a gRPC server with health, reflection and interceptors; return once bound.

    With serving=False health reports NOT_SERVING until the caller calls set_serving.
    With `tracing`, every unary RPC runs in a server span (the caller shuts it down).
    `local_addresses` (`unix:PATH`) are served too, without TLS: a Unix socket is
    reached only through the file system, whose permissions guard it.
    """
    server = grpc.aio.server(
        interceptors=list(interceptors),
        options=[
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            # Off by default so a second process on a taken port fails loudly;
            # on for routers that deliberately share one port.
            ("grpc.so_reuseport", 1 if config.reuse_port else 0),
        ],
    )
    instrumentation = Instrumentation(name, tracing=tracing)
    service_names = list(register(InstrumentedServer(server, instrumentation)))  # type: ignore[arg-type]
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            *service_names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    address = f"{config.host}:{config.port}"
    check_bindable(config.host, config.port, reuse_port=config.reuse_port)
    credentials = None
    if config.tls_cert_file:
        credentials = server_credentials(
            cert_file=config.tls_cert_file,
            key_file=config.tls_key_file,
            client_ca_file=config.tls_client_ca_file,
        )
    port = _bind(server, address, credentials)
    for local in local_addresses:
        _bind(server, local, None)
    await server.start()
    running = RunningServer(server, port, health_servicer, service_names)
    await running.set_serving(serving)
    return running


def _bind(server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials | None) -> int:
    """Listen on `address` (with TLS when given credentials); the bound port."""
    try:
        if credentials is not None:
            port = server.add_secure_port(address, credentials)
        else:
            port = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise StartupError(f"cannot bind {address}: {exc}") from exc
    if port == 0:
        raise StartupError(f"cannot bind {address} (in use?)")
    return port


async def serve(
    *,
    name: str,
    config: ServerConfig,
    register: Registrar,
    on_start: Hook | None = None,
    on_stop: Hook | None = None,
    on_drain: Hook | None = None,
    ready: Hook | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    workers: int = 1,
    local_addresses: Sequence[str] = (),
) -> None:
    """Run a service until a signal: start, report ready, drain on the first signal.

    workers > 1 (stateless services only) runs that many processes on one port; this
    one supervises the others (see switchyard.runtime.workers).
    """
    configure_logging(service=name, level=config.log_level)
    check_workers(workers)
    if workers > 1:
        config = dataclasses.replace(config, reuse_port=True)
    if on_start is not None:
        await on_start()
    # Before the gRPC server: a taken metrics port then fails with nothing to unwind.
    start_metrics_endpoint(config.metrics_port, config.host)
    tracing = (
        Tracing.to_otlp(service=name, endpoint=config.otlp_endpoint)
        if config.otlp_endpoint
        else None
    )
    running = await start_server(
        name=name,
        config=config,
        register=register,
        interceptors=interceptors,
        serving=ready is None,
        tracing=tracing,
        local_addresses=local_addresses,
    )
    if on_stop is not None:
        running.on_stop.append(on_stop)
    if tracing is not None:
        running.on_stop.append(tracing.shutdown)  # after on_stop: its spans are flushed too
    if on_drain is not None:
        running.on_drain.append(on_drain)
    group: WorkerGroup | None = None
    failed: list[str] = []
    if workers > 1:
        try:
            group = await WorkerGroup.start(
                workers - 1,
                port=running.port,
                metrics_port=config.metrics_port,
                timeout_s=WORKER_START_TIMEOUT_S,
            )
        except BaseException:
            await running.stop(0)
            raise

        def worker_died(index: int, code: int) -> None:
            failed.append(f"worker {index} exited with {code}")
            log.error("worker.exited", worker=index, code=code)
            os.kill(os.getpid(), signal.SIGTERM)  # drain and stop the whole service

        running.background.append(asyncio.create_task(group.watch(worker_died)))
    supervisor = supervisor_pid()
    if supervisor is not None and workers == 1:  # workers are always started with 1
        running.background.append(asyncio.create_task(stop_when_orphaned(supervisor)))
    if config.port_file:
        # Atomic: readers never see a partial port. Not durable: a restart rewrites it.
        write_atomically(config.port_file, str(running.port), durable=False)
    log.info("service.listening", port=running.port, host=config.host, transport=config.transport)

    async def report_ready() -> None:
        # Health turns SERVING only once the service can do its job (e.g. the router
        # holds a policy and a fleet); load balancers and `make run` wait for it.
        if ready is not None:
            await ready()
            await running.set_serving(True)
        settle_garbage_collector()
        log.info("service.ready", port=running.port)

    readiness = asyncio.create_task(report_ready())

    try:
        await wait_for_stop_signal(grace_s=config.grace_s)
    finally:
        readiness.cancel()
        for task in running.background:
            task.cancel()
        if group is not None:
            await asyncio.gather(running.stop(config.grace_s), group.stop(config.grace_s))
        else:
            await running.stop(config.grace_s)
        log.info("service.stopped")
    if failed:
        raise WorkerExited("; ".join(failed))


def run_service(main: Callable[[], Awaitable[None]], *, name: str) -> int:
    """Process entry point: uvloop, and a one-line error on startup failure."""
    configure_logging(service=name)
    try:
        import uvloop

        uvloop.run(main())
    except StartupError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
