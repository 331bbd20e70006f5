"""Several processes of one stateless service behind one port (SO_REUSEPORT).

A Python process runs one handler at a time, so a CPU-bound stateless service (the
verifier) scales across cores with processes. With `workers=N` the process started
by the operator is the first worker and the supervisor: it binds the port, starts
N-1 copies of its own command line on that port, and writes its port file only once
all of them are bound. Stopping it stops them. A worker that dies takes the whole
service down (exit 2), so the orchestrator restarts it whole instead of it running
unnoticed at reduced capacity. A worker whose supervisor dies stops itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from switchyard.runtime.errors import StartupError

log = structlog.get_logger("switchyard.workers")

# Set by the supervisor in each worker's environment: the supervisor's pid. This is
# the protocol between the two processes, not configuration.
SUPERVISOR_PID_ENV = "SWITCHYARD_WORKER_OF"
MAX_WORKERS = 64
POLL_S = 0.2


class WorkerExited(StartupError):
    """A worker died while the service was running; the service stops (exit 2)."""


def worker_command(index: int, *, port: int, metrics_port: int, port_file: Path) -> list[str]:
    """This process's own command line, re-pointed at the shared port.

    Flags appended last win over earlier flags, the environment and YAML.
    """
    return [
        *sys.orig_argv,
        "--port", str(port),
        "--reuse-port", "true",
        "--workers", "1",
        "--port-file", str(port_file),
        # Each worker serves its own /metrics: the supervisor's port + its index.
        "--metrics-port", str(metrics_port + index if metrics_port else 0),
    ]  # fmt: skip


@dataclass
class WorkerGroup:
    """The workers a supervisor started (index 1..N-1; the supervisor is worker 0)."""

    processes: list[asyncio.subprocess.Process]
    _stopping: bool = field(default=False, init=False)

    @classmethod
    async def start(
        cls, extra: int, *, port: int, metrics_port: int, timeout_s: float
    ) -> WorkerGroup:
        """Start `extra` workers on `port`; return once every one has bound it."""
        group = cls([])
        with tempfile.TemporaryDirectory(prefix="switchyard-workers-") as tmp:
            port_files = [Path(tmp) / f"worker{i}.port" for i in range(1, extra + 1)]
            environ = {**os.environ, SUPERVISOR_PID_ENV: str(os.getpid())}
            for index, port_file in enumerate(port_files, start=1):
                command = worker_command(
                    index, port=port, metrics_port=metrics_port, port_file=port_file
                )
                # Own session: a terminal's Ctrl-C reaches only the supervisor, which
                # then stops each worker once (a second signal would force-exit it).
                group.processes.append(
                    await asyncio.create_subprocess_exec(
                        *command, env=environ, start_new_session=True
                    )
                )
            try:
                await group._await_bound(port_files, time.monotonic() + timeout_s)
            except BaseException:
                await group.stop(grace_s=0)
                raise
        log.info("workers.started", workers=extra + 1, port=port)
        return group

    async def _await_bound(self, port_files: list[Path], deadline: float) -> None:
        pending = dict(enumerate(port_files, start=1))
        while pending:
            for index, port_file in list(pending.items()):
                code = self.processes[index - 1].returncode
                if code is not None:
                    raise StartupError(f"worker {index} exited with {code} while starting")
                if port_file.exists():
                    del pending[index]
            if pending and time.monotonic() > deadline:
                raise StartupError(f"workers {sorted(pending)} did not bind the port in time")
            await asyncio.sleep(0.05)

    async def watch(self, on_exit: Callable[[int, int], None]) -> None:
        """Call on_exit(index, code) for the first worker that dies unasked."""
        while not self._stopping:
            for index, process in enumerate(self.processes, start=1):
                code = process.returncode
                if code is not None and not self._stopping:
                    on_exit(index, code)
                    return
            await asyncio.sleep(POLL_S)

    async def stop(self, grace_s: float) -> None:
        """SIGTERM every worker (each drains for its own grace), SIGKILL stragglers."""
        self._stopping = True
        for process in self.processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s + 2.0
        for process in self.processes:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), max(0.0, deadline - time.monotonic()))
            if process.returncode is None:
                process.kill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 5)


def supervisor_pid() -> int | None:
    """The supervisor's pid when this process is one of its workers, else None.

    Taken out of the environment so that nothing this process starts inherits it.
    """
    raw = os.environ.pop(SUPERVISOR_PID_ENV, "")
    return int(raw) if raw.isdigit() else None


async def stop_when_orphaned(supervisor: int) -> None:
    """Ask this worker to drain (SIGTERM to itself) once its supervisor is gone."""
    while os.getppid() == supervisor:
        await asyncio.sleep(POLL_S * 5)
    log.warning("worker.orphaned", supervisor=supervisor)
    os.kill(os.getpid(), signal.SIGTERM)


def check_workers(workers: int) -> None:
    if not 1 <= workers <= MAX_WORKERS:
        raise StartupError(f"workers must be 1..{MAX_WORKERS}, got {workers}")
