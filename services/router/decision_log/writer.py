"""DecisionLog: the route observer that queues decisions and writes them on its own thread.

The request path only freezes the trace and appends it to a list (a few microseconds);
a full queue drops the decision and counts it. Every BATCH_DELAY_S (or BATCH_MAX
decisions) one event-loop callback turns the batch into rows and hands them to the
writer thread, which only runs SQLite (which releases the GIL while it works). Building
rows on the writer thread instead made it hold the GIL for whole batches of Python
work, and the event loop waited for it on every syscall: `make bench` lost far more
throughput than the CPU the rows cost. Feedback goes through the same queue, so it
always sees every decision queued before it, written or not.

A write that fails (disk full, read-only or missing directory) is counted in
`switchyard_decision_log_write_failures_total`, logged at most once a minute, and the
batch is dropped: routing never waits for the disk.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import Counter

from services.router.decision_log.record import (
    PendingDecision,
    Redactor,
    TextCapture,
    decision_from,
    pending_from_trace,
)
from services.router.decision_log.store import MIN_FILE_BYTES, DecisionFiles
from services.router.observers import RouteTrace
from switchyard.runtime.errors import NotFound, SwitchyardError, Unavailable

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
CLOSE_TIMEOUT_S = 5.0
FEEDBACK_TIMEOUT_S = 5.0
# One drain of the queue takes at most this many items.
DRAIN_MAX = 1000
# Decisions wait this long (or until this many) before their rows are built at once.
BATCH_DELAY_S = 0.1
BATCH_MAX = 256


@dataclass(frozen=True)
class DecisionLogSettings:
    path: Path
    # Over every file: the active one, the rotated ones, their WAL and index files.
    max_bytes: int = 256 * 1024 * 1024
    # Rotated files kept beside the active one; 0: a full file is started afresh.
    rotations: int = 3
    # Prompt and answer text is stored only when this is set, after `redact`.
    capture_text: bool = False
    redact: Redactor | None = None
    # Decisions waiting for the writer; past this, new ones are dropped and counted.
    queue_size: int = 10_000

    def __post_init__(self) -> None:
        if not 0 <= self.rotations <= 99:
            raise ValueError(f"rotations must be 0..99, got {self.rotations}")
        if self.max_bytes < MIN_FILE_BYTES * (self.rotations + 1):
            raise ValueError(
                f"max_bytes must be at least {MIN_FILE_BYTES} per file "
                f"({self.rotations + 1} files), got {self.max_bytes}"
            )
        if self.queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {self.queue_size}")


@dataclass
class _Feedback:
    request_id: str
    label: float
    source: str
    # Only decisions of this tenant may be labelled (None: any).
    tenant: str | None
    done: Callable[[int | SwitchyardError], None]


@dataclass
class _Rows:
    rows: list[tuple[object, ...]]
    # Decisions the batch held, written or not (rows that failed to build are counted).
    decisions: int


@dataclass
class _Flush:
    done: Callable[[int | SwitchyardError], None]


_STOP = object()


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


class DecisionLog:
    """Call `observe`, `record_shadow`, `record_feedback` and `close` from the event loop
    thread (the one the router serves on)."""

    def __init__(self, settings: DecisionLogSettings) -> None:
        self.settings = settings
        self.files = DecisionFiles(
            settings.path, max_bytes=settings.max_bytes, rotations=settings.rotations
        )
        self._capture = (
            TextCapture(settings.redact or (lambda text: text)) if settings.capture_text else None
        )
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # Decisions not yet handed to the writer thread, and the timer that hands them.
        self._pending: list[PendingDecision] = []
        self._hand_over_at: asyncio.TimerHandle | None = None
        # Written by one thread each, so neither needs a lock: queued - taken = handed
        # to the writer and not written yet.
        self._queued = 0
        self._taken = 0
        self.failures = FailureReport()
        self._thread = threading.Thread(target=self._drain, name="decision-log", daemon=True)
        self._thread.start()

    # -- the request path ---------------------------------------------------------------

    def observe(self, trace: RouteTrace) -> None:
        self._put(pending_from_trace(trace, with_answer=self._capture is not None))

    def record_shadow(self, trace: RouteTrace, *, shadow_of: str) -> None:
        """Log what a shadow policy decided for request `shadow_of`, beside its record."""
        if not shadow_of:
            raise ValueError("a shadow decision names the request it shadows")
        self._put(
            pending_from_trace(trace, shadow_of=shadow_of, with_answer=self._capture is not None)
        )

    def _put(self, pending: PendingDecision) -> None:
        if self.waiting >= self.settings.queue_size:
            DROPPED.inc()
            return
        self._pending.append(pending)
        if len(self._pending) >= BATCH_MAX:
            self._hand_over()
        elif self._hand_over_at is None:
            self._hand_over_at = asyncio.get_running_loop().call_later(
                BATCH_DELAY_S, self._hand_over
            )

    @property
    def waiting(self) -> int:
        return len(self._pending) + self._queued - self._taken

    def _hand_over(self) -> None:
        """Build the pending decisions' rows (on the event loop) for the writer thread."""
        if self._hand_over_at is not None:
            self._hand_over_at.cancel()
            self._hand_over_at = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        rows = []
        for pending in batch:
            try:
                rows.append(decision_from(pending, capture=self._capture).row())
            except Exception as exc:  # a bug in one record must not stop the log
                self.failures.failed(exc, lost=1, path=self.settings.path)
        self._queued += len(batch)
        self._queue.put(_Rows(rows, len(batch)))

    # -- feedback and shutdown ------------------------------------------------------------

    async def record_feedback(
        self, request_id: str, *, label: float, source: str, tenant: str | None = None
    ) -> int:
        """Attach a label to every decision with this request id; how many there were.

        NotFound when there is none (of `tenant`, when given); Unavailable when the log
        cannot be read or written.
        """
        return await self._ask(lambda done: _Feedback(request_id, label, source, tenant, done))

    async def flush(self) -> None:
        """Return once every decision queued before the call is written (or failed)."""
        await self._ask(_Flush)

    async def _ask(self, make: Callable[[Callable[[int | SwitchyardError], None]], Any]) -> int:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[int] = loop.create_future()

        def settle(outcome: int | SwitchyardError) -> None:
            if not answer.done():
                if isinstance(outcome, SwitchyardError):
                    answer.set_exception(outcome)
                else:
                    answer.set_result(outcome)

        def done(outcome: int | SwitchyardError) -> None:
            try:
                loop.call_soon_threadsafe(settle, outcome)
            except RuntimeError:
                pass  # the loop closed while the writer worked: nobody is waiting

        if not self._thread.is_alive():
            raise Unavailable("the decision log is closed")
        self._hand_over()
        self._queue.put(make(done))
        try:
            return await asyncio.wait_for(answer, FEEDBACK_TIMEOUT_S)
        except TimeoutError:
            raise Unavailable("the decision log is behind; retry the feedback") from None

    async def close(self) -> None:
        """Write what is queued, then stop the writer (bounded by CLOSE_TIMEOUT_S)."""
        if self._thread.is_alive():
            self._hand_over()
            self._queue.put(_STOP)
            await asyncio.to_thread(self._thread.join, CLOSE_TIMEOUT_S)

    # -- the writer thread ------------------------------------------------------------------

    def _drain(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < DRAIN_MAX:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            batches = [item for item in items if isinstance(item, _Rows)]
            rows = [row for batch in batches for row in batch.rows]
            try:
                self._write(rows)
            except Exception as exc:  # the writer must outlive any one bad batch
                self.failures.failed(exc, lost=len(rows), path=self.settings.path)
            self._taken += sum(batch.decisions for batch in batches)
            for item in items:
                if isinstance(item, _Feedback):
                    item.done(self._feedback(item))
                elif isinstance(item, _Flush):
                    item.done(0)
            if any(item is _STOP for item in items):
                self.files.close()
                return

    def _write(self, rows: list[tuple[object, ...]]) -> None:
        """Commit in transactions of at most the file's batch share (store.py)."""
        chunk: list[tuple[object, ...]] = []
        size = 0
        for row in rows:
            row_bytes = len(row[-1]) + 256  # type: ignore[arg-type]  # detail plus columns
            if chunk and size + row_bytes > self.files.share.batch_bytes:
                self._commit(chunk)
                chunk, size = [], 0
            chunk.append(row)
            size += row_bytes
        if chunk:
            self._commit(chunk)

    def _commit(self, rows: list[tuple[object, ...]]) -> None:
        try:
            rotated = self.files.write(rows)
        except (sqlite3.Error, OSError) as exc:
            # SQLite rolled the batch back; the same connection writes again once the
            # disk has room (or opens the file once the directory can hold it).
            self.failures.failed(exc, lost=len(rows), path=self.settings.path)
            return
        WRITTEN.inc(len(rows))
        if rotated:
            ROTATIONS.inc()

    def _feedback(self, item: _Feedback) -> int | SwitchyardError:
        try:
            found = self.files.holds(item.request_id, tenant=item.tenant)
            if not found:
                return NotFound(f"no decision with request id {item.request_id!r}")
            self.files.add_feedback(item.request_id, source=item.source, label=item.label)
        except (sqlite3.Error, OSError) as exc:
            self.failures.failed(exc, lost=1, path=self.settings.path)
            return Unavailable("the decision log cannot be written; retry the feedback later")
        return found
