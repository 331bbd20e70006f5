"""`switchyard run`: the whole suite in the foreground until Ctrl-C, SIGTERM or the
terminal closing (SIGHUP)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

from switchyard.certs import DevCerts, write_dev_certs
from switchyard.client import DEFAULT_ROUTER, DEV_TENANT_TOKEN
from switchyard.suite import (
    EXAMPLES,
    Suite,
    SuiteError,
    SuiteMetricsPorts,
    SuitePorts,
    SuiteSettings,
    SuiteTls,
)

# Ctrl-C, `kill`, and the terminal closing: each stops the suite the same way.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PORT_SETS = {"default": SuitePorts(), "ephemeral": SuitePorts.ephemeral()}
METRICS_OF = ("router", "registry", "verifier", "controlplane")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("run", help="start the whole suite on its embedded defaults")
    parser.add_argument("--state-dir", type=Path, default=Path("var"))
    parser.add_argument(
        "--ports",
        choices=sorted(PORT_SETS),
        default="default",
        help="default: 50051-50054 and 8090, /metrics on 9101-9103 and 9110; ephemeral: ports the"
        " OS picks (printed), no metrics",
    )
    parser.add_argument("--router-port", type=int, help="overrides the router's port")
    parser.add_argument(
        "--tls",
        action="store_true",
        help="TLS on every gRPC service and channel, with certificates under "
        "STATE_DIR/certs (written by `switchyard certs dev` when missing)",
    )
    parser.add_argument(
        "--mtls", action="store_true", help="as --tls, and every client must present a certificate"
    )
    parser.add_argument(
        "--tenant-tokens-file",
        type=Path,
        default=EXAMPLES / "tenants.yaml",
        help="the router's caller tokens (default: examples/tenants.yaml, dev token "
        f"{DEV_TENANT_TOKEN!r} for tenant demo)",
    )
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="run the router without caller tokens (any tenant and tier is believed)",
    )
    parser.add_argument(
        "--scorer-path",
        type=Path,
        help="a quality-scorer artefact (`switchyard train verifier`) for the verifier and "
        "the routers' embedded verification alike (default: the packaged one)",
    )
    parser.set_defaults(func=run)


def _say(text: str, *, file: TextIO | None = None) -> None:
    """Print, even when the terminal has gone away.

    A closed terminal fails writes with EIO; the suite must still stop, so the stream is
    pointed at /dev/null, which also keeps the interpreter's exit flush from failing.
    """
    stream = file or sys.stdout
    try:
        print(text, file=stream, flush=True)
    except OSError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def example_calls(router: str, tls: SuiteTls | None = None) -> str:
    """The commands a newcomer can paste to send the first requests."""
    flag = "" if router == DEFAULT_ROUTER else f" --router {router}"
    cli = ".venv/bin/switchyard"
    lines = []
    if tls is not None:
        client = tls.client
        lines.append(f"  export SWITCHYARD_TLS_CA={client.root_certificates}")
        if client.mutual:
            lines.append(f"  export SWITCHYARD_TLS_CERT={client.client_certificate}")
            lines.append(f"  export SWITCHYARD_TLS_KEY={client.client_key}")
    demo = f"  {cli} demo{flag}" if flag or tls is not None else "  make demo"
    lines += [
        f'  {cli} route "What is a B-tree?" --task chat --tier pro --budget 5000{flag}',
        f"  {cli} plan - --task math{flag} < docs/routing.md",
        demo,
    ]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when inside."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def security_summary(settings: SuiteSettings) -> str:
    """What a caller needs to know: transport and the router's tokens."""
    tls = settings.tls
    if tls is None:
        transport = "plaintext on 127.0.0.1 (make run TLS=1 for TLS)"
    else:
        transport = f"{'mutual TLS' if tls.mutual else 'TLS'}, certificates in {tls.certs_dir}"
    if settings.tenant_tokens_file is None:
        auth = "router authentication OFF (--no-auth): any tenant and tier is believed"
    else:
        auth = (
            f"router callers need a token from {_shown(settings.tenant_tokens_file)}; "
            f"switchyard route/plan/demo send the dev token {DEV_TENANT_TOKEN!r} (tenant demo)"
        )
    return f"Transport: {transport}\nAuth: {auth}"


async def _start(suite: Suite, stop: asyncio.Event) -> bool:
    """Start the suite; False when a stop signal came first (Suite.start then stops
    what it had started)."""
    starting = asyncio.create_task(suite.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if starting.done():
        starting.result()  # raises SuiteError
        return True
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError, SuiteError):
        await starting
    return False


async def _run(settings: SuiteSettings) -> int:
    suite = Suite(settings)
    stop = asyncio.Event()

    def on_signal() -> None:
        # Two stages, as in every service: the first signal stops the services in
        # order, each draining; another one while they drain kills them at once.
        if stop.is_set():
            suite.kill()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal)
    started = time.monotonic()
    try:
        if not await _start(suite, stop):
            _say("Stopped while starting.")
            return 0
    except SuiteError as exc:
        _say(f"switchyard run: {exc}", file=sys.stderr)
        return 1
    router = suite.address("router")
    _say(f"Switchyard is up in {time.monotonic() - started:.1f}s.")
    for name, service in suite.services.items():
        _say(
            f"  {name:<13} {settings.host}:{service.port:<6} pid {service.process.pid:<8}"
            f" log: {service.log_path}"
        )
    metrics = [f"{name} {url}" for name in METRICS_OF if (url := suite.metrics_url(name))]
    if metrics:
        _say("Metrics: " + ", ".join(metrics) + "\n  (make observe: Prometheus on them)")
    _say(
        f"\nRouter: {router}\n{security_summary(settings)}\n"
        f"Try, in another terminal:\n{example_calls(router, settings.tls)}\n"
        "Ctrl-C stops everything."
    )
    while not stop.is_set():
        dead = suite.dead_services()
        if dead:
            _say(f"switchyard run: {', '.join(dead)} exited; stopping the suite", file=sys.stderr)
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
    _say("Stopping... (a second Ctrl-C kills the services at once)")
    await suite.stop()
    _say("Stopped.")
    return 0 if stop.is_set() else 1


def suite_tls(args: argparse.Namespace) -> SuiteTls | None:
    """--tls/--mtls: the certificates under STATE_DIR/certs, written there when missing."""
    if not (args.tls or args.mtls):
        return None
    folder = args.state_dir / "certs"
    if not DevCerts(folder).complete():
        write_dev_certs(folder)
        _say(f"Wrote development certificates to {folder} (switchyard certs dev).")
    return SuiteTls(certs_dir=folder, mutual=args.mtls)


def run(args: argparse.Namespace) -> int:
    ports = PORT_SETS[args.ports]
    if args.router_port is not None:
        ports = dataclasses.replace(ports, router=args.router_port)
    settings = SuiteSettings(
        state_dir=args.state_dir,
        ports=ports,
        metrics=SuiteMetricsPorts() if args.ports == "default" else None,
        tenant_tokens_file=None if args.no_auth else args.tenant_tokens_file,
        tls=suite_tls(args),
        scorer_path=args.scorer_path,
    )
    return asyncio.run(_run(settings))
