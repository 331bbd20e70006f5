"""Drive a server with h2load and read back what it measured.

h2load (Debian nghttp2-client) is a C load generator: one thread sends tens of
thousands of requests per second, far more than a Python server on this machine can
answer, so it is not the bottleneck (each run records its CPU use to show it). It
speaks HTTP/2 (h2c, for gRPC) or HTTP/1.1 (`--h1`, for OpenAI-compatible gateways).
Runs are by request count (-n), never by duration, so every request sent is also
accounted for; per-request latencies come from its --log-file.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.stats import LatencySummary

_FINISHED = re.compile(r"finished in ([\d.]+)(ms|s|us)?, ([\d.]+) req/s")
_REQUESTS = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded,"
    r" (\d+) failed, (\d+) errored, (\d+) timeout"
)
_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
_UNIT_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6, None: 1.0}


class H2loadError(RuntimeError):
    pass


@dataclass(frozen=True)
class H2loadResult:
    duration_s: float
    rps: float
    total: int
    started: int
    done: int
    succeeded: int
    failed: int
    errored: int
    timeout: int
    status: dict[str, int]
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    cpu_s: float = 0.0
    # First to last request start, from the log: the sending window without h2load's
    # start-up and the wait for the last answers.
    send_span_s: float = 0.0

    @property
    def send_rps(self) -> float:
        return self.started / self.send_span_s if self.send_span_s > 0 else self.rps

    @property
    def latency(self) -> LatencySummary:
        return LatencySummary.of(self.latencies_ms)

    @property
    def non_2xx(self) -> int:
        return self.status.get("3xx", 0) + self.status.get("4xx", 0) + self.status.get("5xx", 0)


def parse_output(text: str) -> dict[str, object]:
    """The summary figures of an h2load run; H2loadError if it has none."""
    finished = _FINISHED.search(text)
    requests = _REQUESTS.search(text)
    status = _STATUS.search(text)
    if not (finished and requests and status):
        tail = " | ".join(text.strip().splitlines()[-5:])
        raise H2loadError(f"h2load printed no summary: {tail}")
    total, started, done, succeeded, failed, errored, timeout = map(int, requests.groups())
    return {
        "duration_s": float(finished.group(1)) * _UNIT_S[finished.group(2)],
        "rps": float(finished.group(3)),
        "total": total,
        "started": started,
        "done": done,
        "succeeded": succeeded,
        "failed": failed,
        "errored": errored,
        "timeout": timeout,
        "status": dict(zip(("2xx", "3xx", "4xx", "5xx"), map(int, status.groups()), strict=True)),
    }


def send_span_s(text: str) -> float:
    """Seconds from the first to the last request start in an h2load --log-file."""
    starts = [int(line.split("\t", 1)[0]) for line in text.splitlines() if line[:1].isdigit()]
    return (max(starts) - min(starts)) / 1e6 if len(starts) > 1 else 0.0


def parse_log(text: str) -> list[float]:
    """Latency in ms of each request that got a response, from an h2load --log-file
    (tab-separated: start µs since epoch, HTTP status, µs until the response ended;
    a failed request has status -1)."""
    latencies: list[float] = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        try:
            status, elapsed_us = int(parts[1]), int(parts[2])
        except ValueError:
            continue
        if status > 0:
            latencies.append(elapsed_us / 1000.0)
    return latencies


def available() -> str | None:
    return shutil.which("h2load")


def command(
    url: str,
    *,
    requests: int,
    connections: int,
    streams: int,
    body: Path | None = None,
    headers: Sequence[str] = (),
    h1: bool = False,
    threads: int = 1,
    log_file: Path | None = None,
    timing_script: Path | None = None,
) -> list[str]:
    args = [
        "h2load",
        "-n",
        str(requests),
        "-c",
        str(connections),
        "-m",
        str(streams),
        "-t",
        str(threads),
    ]
    if h1:
        args.append("--h1")
    if body is not None:
        args.append(f"--data={body}")
    for header in headers:
        args += ["-H", header]
    if log_file is not None:
        args.append(f"--log-file={log_file}")
    if timing_script is not None:
        # The script names the URL on every line; h2load takes none on the command line.
        args.append(f"--timing-script-file={timing_script}")
        return args
    args.append(url)
    return args


def write_timing_script(path: Path, url: str, *, count: int, step_ms: float) -> None:
    """`count` requests spaced `step_ms` apart.

    h2load sends each request on its schedule whether or not earlier ones have answered
    (given free streams), so latency is measured without coordinated omission, and a C
    load generator leaves the cores to the servers under test. It arms each send's
    timer after the previous send, so every gap grows by a small fixed overhead; callers
    measure it and shorten `step_ms` to compensate.
    """
    path.write_text("".join(f"{i * step_ms:.3f}\t{url}\n" for i in range(count)))


def _run_blocking(args: list[str], timeout_s: float) -> tuple[str, float]:
    """Run h2load; return its output and the CPU seconds it alone used (wait4)."""
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    killer = threading.Timer(timeout_s, process.kill)
    killer.start()
    try:
        assert process.stdout is not None
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        killer.cancel()
    if process.returncode < 0:
        raise H2loadError(f"h2load killed after {timeout_s:.0f} s (signal {-process.returncode})")
    return output.decode(errors="replace"), usage.ru_utime + usage.ru_stime


async def run(
    url: str,
    *,
    requests: int,
    connections: int,
    streams: int,
    body: Path | None = None,
    headers: Sequence[str] = (),
    h1: bool = False,
    log_file: Path | None = None,
    timing_script: Path | None = None,
    timeout_s: float = 120.0,
) -> H2loadResult:
    """One h2load run of exactly `requests` requests (per client with a timing script)."""
    args = command(
        url,
        requests=requests,
        connections=connections,
        streams=streams,
        body=body,
        headers=headers,
        h1=h1,
        log_file=log_file,
        timing_script=timing_script,
    )
    output, cpu_s = await asyncio.to_thread(_run_blocking, args, timeout_s)
    summary = parse_output(output)
    latencies: list[float] = []
    span = 0.0
    if log_file is not None and log_file.exists():
        text = log_file.read_text()
        latencies, span = parse_log(text), send_span_s(text)
        os.unlink(log_file)
    return H2loadResult(**summary, latencies_ms=latencies, cpu_s=cpu_s, send_span_s=span)  # type: ignore[arg-type]
