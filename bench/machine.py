"""The machine a run was measured on: absolute numbers only mean something next to it."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def cpu_model(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "cpu model"):
            return value.strip()
    return platform.processor() or "unknown"


def memory_gib(meminfo: str) -> float:
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def os_name(os_release: str) -> str:
    for line in os_release.splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return platform.system()


def _version(args: list[str]) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.strip().splitlines()[0] if out.strip() else ""


def background_busy_percent(seconds: float = 2.0) -> float:
    """How busy the cores are before the bench starts anything: other work on a shared
    machine takes CPU from every figure that follows."""
    from bench.cpu import machine_busy_s

    busy0, total0 = machine_busy_s()
    time.sleep(seconds)
    busy1, total1 = machine_busy_s()
    return round((busy1 - busy0) / (total1 - total0) * 100, 1) if total1 > total0 else 0.0


def describe(busy_before_run_percent: float | None = None) -> dict[str, Any]:
    import grpc

    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(_read("/proc/cpuinfo")),
        "memory_gib": memory_gib(_read("/proc/meminfo")),
        "os": os_name(_read("/etc/os-release")),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "h2load": _version(["h2load", "--version"]),
        "busy_before_run_percent": busy_before_run_percent
        if busy_before_run_percent is not None
        else background_busy_percent(),
    }


def one_line(machine: dict[str, Any]) -> str:
    return (
        f"{machine.get('nproc')} cores ({machine.get('cpu_model')}),"
        f" {machine.get('memory_gib')} GiB, {machine.get('os')},"
        f" Python {machine.get('python')}"
    )
