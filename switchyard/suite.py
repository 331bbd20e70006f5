"""Start the whole suite as separate processes: simulator, registry, verifier,
control plane and router, seeded with a demo fleet and the default policy.

`switchyard run` (`make run`) uses it in the foreground; end-to-end tests use it with
port 0 everywhere (each service writes its bound port to a file) and a temp state dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from switchyard.certs import DevCerts
from switchyard.client.config import DEV_OPERATOR_TOKEN, DEV_ROUTER_TOKEN
from switchyard.fleet import apply_fleet, load_fleet
from switchyard.registry.v1 import registry_pb2_grpc
from switchyard.runtime.parent_death import tethered
from switchyard.runtime.tls import TlsConfig, open_upstream_channel

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"


@dataclass(frozen=True)
class SuitePorts:
    router: int = 50051
    registry: int = 50052
    verifier: int = 50053
    controlplane: int = 50054
    simulator: int = 8090

    @classmethod
    def ephemeral(cls) -> SuitePorts:
        return cls(0, 0, 0, 0, 0)


@dataclass(frozen=True)
class SuiteMetricsPorts:
    """Each service's Prometheus /metrics port (0: none): what deploy/prometheus scrapes.

    The router's is the first router process's; `SuiteSettings.router_metrics_ports`
    sets one per router process instead.
    """

    router: int = 9101
    registry: int = 9102
    controlplane: int = 9103
    # Last: verifier worker i serves metrics on this port + i.
    verifier: int = 9110

    def of(self, service: str) -> int:
        return int(getattr(self, service))


@dataclass(frozen=True)
class SuiteTls:
    """TLS on every gRPC service and channel of the suite, with the certificates
    `switchyard certs dev` wrote to `certs_dir`; `mutual` also requires client certs."""

    certs_dir: Path
    mutual: bool = False

    @property
    def certs(self) -> DevCerts:
        return DevCerts(self.certs_dir)

    def server_args(self, service: str) -> list[str]:
        pair = self.certs.service(service)
        args = ["--tls-cert-file", str(pair.cert), "--tls-key-file", str(pair.key)]
        if self.mutual:
            args += ["--tls-client-ca-file", str(self.certs.ca)]
        return args

    def upstream_args(self, upstream: str, *, caller: str) -> list[str]:
        """`caller`'s flags for its channel to `upstream` (the caller's cert as client cert)."""
        args = [f"--{upstream}-tls-ca-file", str(self.certs.ca)]
        if self.mutual:
            pair = self.certs.service(caller)
            args += [f"--{upstream}-tls-cert-file", str(pair.cert)]
            args += [f"--{upstream}-tls-key-file", str(pair.key)]
        return args

    @property
    def client(self) -> TlsConfig:
        """What a client of the suite (the launcher, tests, the CLI) connects with."""
        pair = self.certs.client
        return TlsConfig(
            root_certificates=self.certs.ca,
            client_certificate=pair.cert if self.mutual else None,
            client_key=pair.key if self.mutual else None,
        )


@dataclass(frozen=True)
class SuiteSettings:
    state_dir: Path
    ports: SuitePorts = SuitePorts()
    host: str = "127.0.0.1"
    fleet_file: Path = EXAMPLES / "fleet.yaml"
    simulator_file: Path = EXAMPLES / "simulator.yaml"
    policy_file: Path = EXAMPLES / "policy.yaml"
    startup_timeout_s: float = 30.0
    # Admin token the launcher gives the registry and uses to seed it; routers get the
    # read-only one.
    admin_token: str = "dev-admin-token"
    read_token: str = "dev-read-token"
    # The control plane's tokens (docs/security.md): the CLI's operator default, and
    # the router-scope token every router subscribes with.
    operator_token: str = DEV_OPERATOR_TOKEN
    router_token: str = DEV_ROUTER_TOKEN
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # Router processes; more than one share the router port with SO_REUSEPORT (the
    # first is "router", the others "router-2", "router-3", ...).
    routers: int = 1
    # Each router on its own port with its name as router id, instead of one shared
    # port: for tests that must reach one router in particular (tests/fleet).
    separate_router_ports: bool = False
    # Extra flags for every router process, e.g. ("--verifier-mode", "embedded").
    router_args: tuple[str, ...] = ()
    # Extra flags for one router, by index (e.g. a smaller artefact limit for router 3).
    per_router_args: tuple[tuple[str, ...], ...] = ()
    # Prometheus port per router process (index i for router i); empty: no metrics.
    router_metrics_ports: tuple[int, ...] = ()
    # Every service's metrics port (`make run` uses the defaults); None: none, except
    # the routers' router_metrics_ports.
    metrics: SuiteMetricsPorts | None = None
    # Callers' tokens for the routers (examples/tenants.yaml for `make run`); None runs
    # the routers without authentication, as tests that are not about it do.
    tenant_tokens_file: Path | None = None
    # TLS (and optionally mutual TLS) on every gRPC service and channel; None: plaintext.
    # The simulator stays plain HTTP on loopback either way.
    tls: SuiteTls | None = None
    # One quality-scorer artefact for the verifier and every router's embedded
    # verification (its fallback), so both score alike; None: the packaged one.
    scorer_path: Path | None = None

    def scorer_args(self) -> list[str]:
        return [] if self.scorer_path is None else ["--scorer-path", str(self.scorer_path)]


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    # How it was started, so `Suite.restart` can start it again the same way.
    module: str = ""
    args: tuple[str, ...] = ()


class SuiteError(RuntimeError):
    pass


class Suite:
    """The five processes of a running suite, started in dependency order.

    Start it from the main thread: each service gets SIGTERM when the thread that
    started it exits (see `switchyard.runtime.parent_death`).
    """

    def __init__(self, settings: SuiteSettings) -> None:
        self.settings = settings
        self.services: dict[str, ServiceProcess] = {}
        self._log_dir = settings.state_dir / "logs"

    def address(self, name: str) -> str:
        return f"{self.settings.host}:{self.services[name].port}"

    @property
    def client_tls(self) -> TlsConfig | None:
        """The TLS a client of this suite needs (None when the suite is plaintext)."""
        return self.settings.tls.client if self.settings.tls is not None else None

    def channel(self, name: str, *, token: str = "") -> grpc.aio.Channel:
        """A channel to one service, TLS when the suite is; `token` is checked against
        the plaintext rule (the caller attaches it to its calls)."""
        return open_upstream_channel(self.address(name), self.client_tls, token=token)

    def _server_args(self, service: str) -> list[str]:
        tls = self.settings.tls
        args = tls.server_args(service) if tls is not None else []
        metrics = self.settings.metrics
        if metrics is not None and metrics.of(service):
            args += ["--metrics-port", str(metrics.of(service))]
        return args

    def metrics_url(self, service: str) -> str | None:
        """Where `service` (registry, verifier, controlplane, router) serves /metrics."""
        s = self.settings
        port = s.router_metrics_ports[0] if service == "router" and s.router_metrics_ports else 0
        if not port and s.metrics is not None:
            port = s.metrics.of(service)
        return f"http://{s.host}:{port}/metrics" if port else None

    @property
    def simulator_url(self) -> str:
        return f"http://{self.address('simulator')}"

    # -- processes ----------------------------------------------------------------

    def _spawn(self, name: str, module: str, port: int, *args: str) -> None:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        port_file = self.settings.state_dir / f"{name}.port"
        port_file.unlink(missing_ok=True)
        log_path = self._log_dir / f"{name}.log"
        env = {**os.environ, **self.settings.extra_env, "PYTHONUNBUFFERED": "1"}
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                # Tethered: if the launcher dies without stopping the services (kill -9),
                # the kernel sends each SIGTERM, so none outlives it holding its port.
                tethered(
                    [
                        sys.executable,
                        "-m",
                        module,
                        "--host",
                        self.settings.host,
                        "--port",
                        str(port),
                        "--port-file",
                        str(port_file),
                        *args,
                    ]
                ),
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # Own session: a terminal Ctrl-C or hang-up reaches only the launcher,
                # which then stops the services in order.
                start_new_session=True,
            )
        self.services[name] = ServiceProcess(name, process, 0, log_path, module, args)

    async def _await_port(self, name: str, deadline: float) -> int:
        port_file = self.settings.state_dir / f"{name}.port"
        service = self.services[name]
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise SuiteError(
                    f"{name} exited with {service.process.returncode}: {self._tail(name)}"
                )
            if port_file.exists():
                text = port_file.read_text().strip()
                if text:
                    service.port = int(text)
                    return service.port
            await asyncio.sleep(0.05)
        raise SuiteError(f"{name} did not bind a port in time: {self._tail(name)}")

    def _tail(self, name: str, lines: int = 5) -> str:
        path = self.services[name].log_path
        if not path.exists():
            return "(no log)"
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])

    async def _await_serving(self, name: str, deadline: float) -> None:
        async with self.channel(name) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.services[name].process.poll() is not None:
                    raise SuiteError(f"{name} exited: {self._tail(name)}")
                with contextlib.suppress(grpc.aio.AioRpcError):
                    reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                await asyncio.sleep(0.1)
        raise SuiteError(f"{name} did not become SERVING in time: {self._tail(name)}")

    async def _await_http(self, name: str, deadline: float) -> None:
        url = f"http://{self.address(name)}/healthz"
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.services[name].process.poll() is not None:
                    raise SuiteError(f"{name} exited: {self._tail(name)}")
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise SuiteError(f"{name} did not answer /healthz in time: {self._tail(name)}")

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        ports = s.ports
        s.state_dir.mkdir(parents=True, exist_ok=True)
        if s.tls is not None and not s.tls.certs.complete():
            raise SuiteError(
                f"TLS certificates missing in {s.tls.certs_dir}: "
                f"switchyard certs dev --out {s.tls.certs_dir}"
            )
        deadline = time.monotonic() + s.startup_timeout_s
        try:
            self._spawn(
                "simulator",
                "services.simulator",
                ports.simulator,
                "--models-file",
                str(s.simulator_file),
            )
            self._spawn(
                "registry",
                "services.registry",
                ports.registry,
                "--db-path",
                str(s.state_dir / "registry.db"),
                "--admin-tokens",
                s.admin_token,
                "--read-tokens",
                s.read_token,
                *self._server_args("registry"),
            )
            self._spawn(
                "verifier",
                "services.verifier",
                ports.verifier,
                *s.scorer_args(),
                *self._server_args("verifier"),
            )
            for name in ("simulator", "registry", "verifier"):
                await self._await_port(name, deadline)
            await self._await_http("simulator", deadline)
            await self._await_serving("registry", deadline)
            await self._seed_fleet()
            self._spawn(
                "controlplane",
                "controlplane",
                ports.controlplane,
                "--db-path",
                str(s.state_dir / "controlplane.db"),
                "--seed-policy",
                str(s.policy_file),
                "--operator-tokens",
                s.operator_token,
                "--router-tokens",
                s.router_token,
                "--read-tokens",
                s.read_token,
                *self._server_args("controlplane"),
            )
            await self._await_port("controlplane", deadline)
            await self._await_serving("controlplane", deadline)
            await self._await_serving("verifier", deadline)
            for index in range(s.routers):
                await self._start_router(index, deadline)
        except BaseException:
            await self.stop()
            raise

    async def __aenter__(self) -> Suite:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def router_names(self) -> list[str]:
        return ["router" if i == 0 else f"router-{i + 1}" for i in range(self.settings.routers)]

    def _router_args(self, name: str) -> list[str]:
        """What every router of the suite is started with: its upstreams, their tokens and
        TLS, its state directory, the scorer and the callers' tokens."""
        s = self.settings
        args = [
            "--registry-address",
            self.address("registry"),
            "--verifier-address",
            self.address("verifier"),
            "--controlplane-address",
            self.address("controlplane"),
            "--registry-token",
            s.read_token,
            "--controlplane-token",
            s.router_token,
            "--state-dir",
            str(s.state_dir / name),
            *s.scorer_args(),
        ]
        if s.tenant_tokens_file is not None:
            args += ["--tenant-tokens-file", str(s.tenant_tokens_file)]
        if s.tls is not None:
            args += s.tls.server_args("router")
            for upstream in ("registry", "verifier", "controlplane"):
                args += s.tls.upstream_args(upstream, caller="router")
        return args

    async def _start_router(self, index: int, deadline: float) -> None:
        s = self.settings
        name = self.router_names[index]
        shared = s.routers > 1 and not s.separate_router_ports
        # Later routers bind the port the first one got (it may have been port 0).
        port = s.ports.router if index == 0 or not shared else self.services["router"].port
        args = self._router_args(name)
        if s.separate_router_ports or s.routers > 1:
            args += ["--router-id", name]
        if s.routers > 1:
            # Feedback may reach another router than the one that answered: each asks
            # the others over their sockets here (docs/observability.md).
            args += ["--peer-dir", str(s.state_dir / "router-peers")]
        if shared:
            # One port, one host: one tenant ledger and one set of idempotency keys.
            args += ["--reuse-port", "true", "--ledger-path", str(s.state_dir / "ledger.db")]
        if index < len(s.router_metrics_ports):
            args += ["--metrics-port", str(s.router_metrics_ports[index])]
        elif index == 0 and s.metrics is not None and s.metrics.router:
            args += ["--metrics-port", str(s.metrics.router)]
        log_path = self._log_dir / f"{name}.log"
        log_offset = log_path.stat().st_size if log_path.exists() else 0  # logs append
        own = s.per_router_args[index] if index < len(s.per_router_args) else ()
        self._spawn(name, "services.router", port, *args, *s.router_args, *own)
        await self._await_port(name, deadline)
        if index == 0 or not shared:
            await self._await_serving(name, deadline)
        else:
            # A health check on the shared port may reach any of the routers; this
            # one's own log says when it is SERVING.
            await self._await_log_event(name, "service.ready", log_offset, deadline)

    async def start_remote_router(self, name: str, *extra: str) -> None:
        """One more router, as if on another host: its own port (one the OS picks), state
        directory and router id `name`, no socket directory or ledger shared with the
        suite's routers. `extra`: flags of its own (`--feedback-peers ADDRESS`, say)."""
        if name in self.services:
            raise SuiteError(f"a service named {name} is running already")
        args = [*self._router_args(name), "--router-id", name, *self.settings.router_args]
        self._spawn(name, "services.router", 0, *args, *extra)
        deadline = time.monotonic() + self.settings.startup_timeout_s
        await self._await_port(name, deadline)
        await self._await_serving(name, deadline)

    async def _await_log_event(self, name: str, event: str, offset: int, deadline: float) -> None:
        needle = f'"event":"{event}"'.encode()  # logs are compact JSON (orjson)
        service = self.services[name]
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise SuiteError(f"{name} exited: {self._tail(name)}")
            with contextlib.suppress(FileNotFoundError), service.log_path.open("rb") as log:
                log.seek(offset)
                if needle in log.read():
                    return
            await asyncio.sleep(0.1)
        raise SuiteError(f"{name} did not log {event} in time: {self._tail(name)}")

    async def _seed_fleet(self) -> None:
        environ = {**os.environ, "SWITCHYARD_SIMULATOR_URL": self.simulator_url}
        models = load_fleet(self.settings.fleet_file, environ)
        async with self.channel("registry", token=self.settings.admin_token) as channel:
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            result = await apply_fleet(
                stub, models, metadata=(("authorization", f"Bearer {self.settings.admin_token}"),)
            )
        if not result.ok:
            raise SuiteError(
                f"the registry refused the fleet {self.settings.fleet_file}: "
                f"conflicts={result.conflicts} rejected={result.rejected}"
            )

    async def kill_service(self, name: str) -> None:
        """SIGKILL one service (a crash: no drain, no cleanup) and reap it."""
        process = self.services[name].process
        if process.poll() is None:
            process.kill()
            await asyncio.to_thread(process.wait)

    async def restart(self, name: str, *, timeout_s: float | None = None) -> None:
        """Start a stopped service again as it was first started: same module, flags and
        state (database, state dir), on the port it had bound, and wait until it serves."""
        service = self.services[name]
        if service.process.poll() is None:
            raise SuiteError(f"{name} is still running; stop or kill it first")
        deadline = time.monotonic() + (timeout_s or self.settings.startup_timeout_s)
        log_offset = service.log_path.stat().st_size if service.log_path.exists() else 0
        self._spawn(name, service.module, service.port, *service.args)
        await self._await_port(name, deadline)
        if name == "simulator":
            await self._await_http(name, deadline)
        elif name.startswith("router-"):
            await self._await_log_event(name, "service.ready", log_offset, deadline)
        else:
            await self._await_serving(name, deadline)

    def dead_services(self) -> list[str]:
        return [n for n, svc in self.services.items() if svc.process.poll() is not None]

    async def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM in reverse start order (router first), SIGKILL what outlives the grace."""
        for service in reversed(list(self.services.values())):
            if service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for service in reversed(list(self.services.values())):
            while service.process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if service.process.poll() is None:
                service.process.kill()
                service.process.wait()

    def kill(self) -> None:
        """SIGKILL every service still running, without waiting for its drain."""
        for service in self.services.values():
            if service.process.poll() is None:
                service.process.kill()
