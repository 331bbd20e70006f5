"""CPU used by each process during a run, from /proc: who was the bottleneck, and
how long each waited for a core?

On a 2-core machine the router, the simulator, the verifier and the load generator
share the cores; a run's report says how busy each was and how busy the machine was,
so "the load generator is the limit" or "the cores are the limit" is measured, not
guessed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a live process (all its threads); None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces; the fields after its closing paren are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def child_pids(pid: int) -> list[int]:
    """Live processes whose parent is `pid` (e.g. a verifier supervisor's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def runqueue_wait_s(pid: int) -> float | None:
    """Seconds the process's threads were runnable but waiting for a core
    (/proc/PID/task/*/schedstat, second field); None if unavailable."""
    total_ns = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return None
    for task in tasks:
        try:
            total_ns += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total_ns / 1e9


def cpu_pressure_s() -> float | None:
    """Seconds some task on the machine waited for a core (PSI, /proc/pressure/cpu)."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    for part in first.split():
        if part.startswith("total="):
            return int(part[6:]) / 1e6
    return None


def machine_busy_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / _TICKS, total / _TICKS


@dataclass(frozen=True)
class CpuUsage:
    """Per process: percent of one core, and percent of the wall time its threads sat
    runnable waiting for a core; machine: percent of all cores busy, and of the wall
    time some task waited for a core (CPU pressure)."""

    processes: Mapping[str, float]
    machine_percent: float
    cores: int
    runqueue_wait: Mapping[str, float] = field(default_factory=dict)
    pressure_percent: float | None = None

    @property
    def other_percent(self) -> float:
        """Machine busy % not explained by the measured processes: other work on the
        machine (or processes the meter was not told about)."""
        ours = sum(self.processes.values()) / self.cores
        return max(0.0, self.machine_percent - ours)

    def as_dict(self) -> dict[str, object]:
        return {
            "percent_of_one_core": {k: round(v, 1) for k, v in self.processes.items()},
            "other_work_percent_of_machine": round(self.other_percent, 1),
            "waiting_for_a_core_percent": {k: round(v, 1) for k, v in self.runqueue_wait.items()},
            "machine_busy_percent": round(self.machine_percent, 1),
            "cpu_pressure_percent": None
            if self.pressure_percent is None
            else round(self.pressure_percent, 1),
            "cores": self.cores,
        }


class CpuMeter:
    """Start before a run, `stop()` after; processes that exit mid-run count as far as
    they were last seen (pass the load generator's own rusage via `extra_s`)."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self._pids = dict(pids)
        self._start = {name: process_cpu_s(pid) for name, pid in self._pids.items()}
        self._waits = {name: runqueue_wait_s(pid) for name, pid in self._pids.items()}
        self._pressure = cpu_pressure_s()
        self._machine = machine_busy_s()
        self._wall = time.monotonic()

    def stop(self, extra_s: Mapping[str, float] | None = None) -> CpuUsage:
        wall = max(time.monotonic() - self._wall, 1e-9)
        usage: dict[str, float] = {}
        for name, pid in self._pids.items():
            before, after = self._start[name], process_cpu_s(pid)
            if before is not None and after is not None:
                usage[name] = (after - before) / wall * 100.0
        for name, seconds in (extra_s or {}).items():
            usage[name] = seconds / wall * 100.0
        waits: dict[str, float] = {}
        for name, pid in self._pids.items():
            before_wait, after_wait = self._waits[name], runqueue_wait_s(pid)
            if before_wait is not None and after_wait is not None:
                waits[name] = (after_wait - before_wait) / wall * 100.0
        pressure0, pressure1 = self._pressure, cpu_pressure_s()
        pressure = (
            (pressure1 - pressure0) / wall * 100.0
            if pressure0 is not None and pressure1 is not None
            else None
        )
        busy0, total0 = self._machine
        busy1, total1 = machine_busy_s()
        machine = (busy1 - busy0) / (total1 - total0) * 100.0 if total1 > total0 else 0.0
        return CpuUsage(usage, machine, os.cpu_count() or 1, waits, pressure)


def us_per_request(percent_of_one_core: float | None, rps: float | None) -> float | None:
    """A process's CPU µs per request from its share of one core at `rps` requests/s."""
    if percent_of_one_core is None or not rps:
        return None
    return round(percent_of_one_core / 100 / rps * 1e6, 1)
