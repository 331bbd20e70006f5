"""`switchyard run`: the whole suite in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path

from switchyard.suite import Suite, SuiteError, SuitePorts, SuiteSettings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("run", help="start the whole suite on its embedded defaults")
    parser.add_argument("--state-dir", type=Path, default=Path("var"))
    parser.add_argument("--router-port", type=int, default=SuitePorts.router)
    parser.set_defaults(func=run)


async def _run(settings: SuiteSettings) -> int:
    suite = Suite(settings)
    started = time.monotonic()
    try:
        await suite.start()
    except SuiteError as exc:
        print(f"switchyard run: {exc}", file=sys.stderr)
        return 1
    router = suite.address("router")
    print(f"Switchyard is up in {time.monotonic() - started:.1f}s.")
    for name, service in suite.services.items():
        print(f"  {name:<13} {settings.host}:{service.port:<6} log: {service.log_path}")
    print(
        f"\nRouter: {router}\nTry:\n"
        f'  grpcurl -plaintext -d \'{{"messages":[{{"role":"user","content":"Hello!"}}]}}\''
        f" {router} switchyard.router.v1.RouterService/Route\n"
        f"  make demo\nCtrl-C stops everything.",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        dead = suite.dead_services()
        if dead:
            print(f"switchyard run: {', '.join(dead)} exited; stopping the suite", file=sys.stderr)
            break
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except TimeoutError:
            pass
    print("Stopping...", flush=True)
    await suite.stop()
    print("Stopped.")
    return 0 if stop.is_set() else 1


def run(args: argparse.Namespace) -> int:
    ports = SuitePorts(router=args.router_port)
    return asyncio.run(_run(SuiteSettings(state_dir=args.state_dir, ports=ports)))
