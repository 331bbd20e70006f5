"""Two-stage shutdown shared by every process: the first SIGTERM/SIGINT asks for a
graceful drain, a second one exits at once."""

from __future__ import annotations

import asyncio
import os
import signal

import structlog

log = structlog.get_logger("switchyard.shutdown")


async def wait_for_stop_signal(*, grace_s: float) -> None:
    """Return on the first SIGTERM/SIGINT; a second signal kills the process (exit 1)."""
    stop_requested = asyncio.Event()
    signals_seen = 0

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        name = signal.Signals(signum).name
        if signals_seen == 1:
            log.info("service.draining", signal=name, grace_s=grace_s)
            stop_requested.set()
        else:
            log.warning("service.forced_exit", signal=name)
            os._exit(1)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    await stop_requested.wait()
