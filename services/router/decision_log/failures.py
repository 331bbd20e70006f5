"""The decision log's counters and its failure report, shared by the router and the
writer process (a light module: the writer imports nothing of the router's)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from prometheus_client import Counter

log = structlog.get_logger(__name__)

WRITE_FAILURES = Counter(
    "switchyard_decision_log_write_failures",
    "Decisions (and feedback labels) the decision log could not write: disk full,"
    " read-only or missing directory",
)
DROPPED = Counter(
    "switchyard_decision_log_dropped",
    "Decisions dropped because the decision log's write queue was full",
)
WRITTEN = Counter("switchyard_decision_log_written", "Decisions written to the decision log")
ROTATIONS = Counter(
    "switchyard_decision_log_rotations",
    "Times the active decision-log file was full and a fresh one started",
)

FAILURE_LOG_INTERVAL_S = 60.0


@dataclass
class FailureReport:
    """Write failures, logged at most once an interval with how many since the last line."""

    interval_s: float = FAILURE_LOG_INTERVAL_S
    clock: Callable[[], float] = time.monotonic
    last_logged: float | None = None
    unlogged: int = field(default=0)

    def failed(self, exc: BaseException, *, lost: int, path: Path) -> None:
        WRITE_FAILURES.inc(lost)
        self.unlogged += lost
        now = self.clock()
        if self.last_logged is not None and now - self.last_logged < self.interval_s:
            return
        log.error(
            "decision_log.write_failed",
            path=str(path),
            error=f"{type(exc).__name__}: {exc}",
            lost=self.unlogged,
            detail="routing goes on; decisions are dropped until the log can be written",
        )
        self.last_logged, self.unlogged = now, 0
