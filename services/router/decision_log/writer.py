"""DecisionLog: the route observer that queues decisions for the log's writer process.

The request path builds the decision's row (~5 µs: a tuple and its JSON detail; with
captured text, whose redaction may take longer, that waits for the batch) and appends
it to a list; a full queue drops the decision and counts it. Once BATCH_MAX rows wait,
the next turn of the event loop (the last route's answer is on its way) writes them,
without blocking, to the pipe of the writer process (writer_process.py), which runs
SQLite; fewer rows go after BATCH_DELAY_S. On the router's own thread SQLite's inserts
took the GIL back once per statement and cost the event loop its core: `make bench`
lost more throughput than the CPU they cost.
Feedback and flushes go through the same pipe, so they always see every decision
queued before them, written or not.

A write that fails (disk full, read-only or missing directory) is counted in
`switchyard_decision_log_write_failures_total`, logged at most once a minute (by the
writer), and the batch is dropped: routing never waits for the disk. A writer process
that dies is logged, its unwritten decisions counted as failures, and a new one started
(at most once every RESTART_INTERVAL_S).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.router.decision_log.failures import (
    DROPPED,
    ROTATIONS,
    WRITE_FAILURES,
    WRITTEN,
    FailureReport,
)
from services.router.decision_log.record import (
    PendingDecision,
    Redactor,
    TextCapture,
    decision_row,
    pending_from_trace,
)
from services.router.decision_log.store import MIN_FILE_BYTES
from services.router.decision_log.writer_process import NOT_FOUND, FrameReader, frame
from services.router.observers import RouteTrace
from switchyard.runtime.errors import NotFound, Unavailable

CLOSE_TIMEOUT_S = 5.0
FEEDBACK_TIMEOUT_S = 5.0
RESTART_INTERVAL_S = 5.0
# The package root, from which the writer process imports this package.
_ROOT = Path(__file__).resolve().parents[3]
# Rows wait this long (or until this many) before they are sent at once. Built on the
# loop turn after each route (a callback per decision, the route's objects out of the
# caches), rows cost the single route ~10 % of its throughput; built in batches or on
# the request path, 3-6 %. The request path is kept: a batch's build pauses the loop for
# the requests behind it (256 rows: router-added p99 ~1 ms worse). docs/bench.md.
BATCH_DELAY_S = 0.1
BATCH_MAX = 32


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


class _Child:
    """The writer process and its two pipes, non-blocking on the router's side."""

    def __init__(self, settings: DecisionLogSettings) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.router.decision_log.writer_process",
                str(settings.path),
                str(settings.max_bytes),
                str(settings.rotations),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=_ROOT,
            # Its own session: a Ctrl-C or a signal to the router's process group must not
            # cut the writer short while the router still sends its last batches; it
            # ends when its input does (the router closed it, or the router died).
            start_new_session=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests = self.process.stdin.fileno()
        self.replies = self.process.stdout.fileno()
        os.set_blocking(self.requests, False)
        os.set_blocking(self.replies, False)
        self.outbox = bytearray()
        self.reader = FrameReader()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.writing = False
        self.alive = True

    def close_requests(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            if self.loop is not None and self.writing:
                self.loop.remove_writer(self.requests)
                self.writing = False
            self.process.stdin.close()

    def detach(self) -> None:
        """Stop watching both pipes and close them (the process is gone or going)."""
        if self.loop is not None:
            self.loop.remove_reader(self.replies)
            if self.writing:
                self.loop.remove_writer(self.requests)
        self.writing = False
        self.close_requests()
        if self.process.stdout is not None:
            self.process.stdout.close()


class DecisionLog:
    """Call `observe`, `record_shadow`, `record_feedback` and `close` from the event loop
    thread (the one the router serves on)."""

    def __init__(self, settings: DecisionLogSettings) -> None:
        self.settings = settings
        self._capture = (
            TextCapture(settings.redact or (lambda text: text)) if settings.capture_text else None
        )
        # Decisions waiting for their text (capture on), rows not yet sent, and the
        # callbacks that send them: the loop turn after BATCH_MAX, else BATCH_DELAY_S.
        self._pending: list[PendingDecision] = []
        self._rows: list[tuple[object, ...]] = []
        self._send_soon: asyncio.Handle | None = None
        self._hand_over_at: asyncio.TimerHandle | None = None
        # Rows sent to the writer, and rows it reported written or lost.
        self._queued = 0
        self._settled = 0
        self._answers: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._closed = False
        self.failures = FailureReport()
        self._started_at = time.monotonic()
        self._child: _Child | None = _Child(settings)

    # -- the request path ---------------------------------------------------------------

    def observe(self, trace: RouteTrace) -> None:
        self._put(self._pending_from(trace, shadow_of=""))

    def record_shadow(self, trace: RouteTrace, *, shadow_of: str) -> None:
        """Log what a shadow policy decided for request `shadow_of`, beside its record."""
        if not shadow_of:
            raise ValueError("a shadow decision names the request it shadows")
        self._put(self._pending_from(trace, shadow_of=shadow_of))

    def _pending_from(self, trace: RouteTrace, *, shadow_of: str) -> PendingDecision:
        # With text captured the row waits for the batch (redaction may be slow), so the
        # response's facts and the answer are copied now.
        return pending_from_trace(trace, shadow_of=shadow_of, later=self._capture is not None)

    def _put(self, pending: PendingDecision) -> None:
        if self.waiting >= self.settings.queue_size or self._closed:
            DROPPED.inc()
            return
        if self._capture is None:
            # Built here, while the route's objects are still in the CPU's caches: ~5 µs
            # on the route's own time, and no later request waits behind a batch.
            self._add_row(pending)
        else:  # redacting text can take milliseconds: after the answer, with the batch
            self._pending.append(pending)
        loop = asyncio.get_running_loop()
        if self._send_soon is None and len(self._rows) + len(self._pending) >= BATCH_MAX:
            self._send_soon = loop.call_soon(self._hand_over)
        if self._hand_over_at is None:
            self._hand_over_at = loop.call_later(BATCH_DELAY_S, self._hand_over)

    def _add_row(self, pending: PendingDecision) -> None:
        try:
            self._rows.append(decision_row(pending, capture=self._capture))
        except Exception as exc:  # a bug in one record must not stop the log
            self.failures.failed(exc, lost=1, path=self.settings.path)

    def _build(self) -> None:
        """Turn the decisions waiting for their text into rows."""
        batch, self._pending = self._pending, []
        for pending in batch:
            self._add_row(pending)

    @property
    def writer_pid(self) -> int | None:
        """The writer process's pid while one runs (for the CPU benchmark and operators)."""
        return self._child.process.pid if self._child is not None else None

    @property
    def waiting(self) -> int:
        """Decisions queued and not yet written (or lost)."""
        return len(self._pending) + len(self._rows) + self._queued - self._settled

    def _hand_over(self) -> None:
        """Send the built rows (and any still pending) to the writer."""
        if self._send_soon is not None:
            self._send_soon.cancel()
            self._send_soon = None
        if self._hand_over_at is not None:
            self._hand_over_at.cancel()
            self._hand_over_at = None
        if self._pending:
            self._build()
        rows, self._rows = self._rows, []
        if not rows:
            return
        child = self._running_child()
        if child is None:
            self.failures.failed(
                RuntimeError("the decision-log writer is not running"),
                lost=len(rows),
                path=self.settings.path,
            )
            return
        self._queued += len(rows)
        self._send(child, ("rows", rows))

    # -- the writer process ---------------------------------------------------------------

    def _running_child(self) -> _Child | None:
        """The writer, attached to this loop; a new one if the last died long enough ago."""
        if self._child is None and not self._closed:
            if time.monotonic() - self._started_at >= RESTART_INTERVAL_S:
                self._started_at = time.monotonic()
                try:
                    self._child = _Child(self.settings)
                except OSError as exc:
                    self.failures.failed(exc, lost=0, path=self.settings.path)
        child = self._child
        if child is not None and child.loop is None:
            child.loop = asyncio.get_running_loop()
            child.loop.add_reader(child.replies, self._on_replies, child)
        return child

    def _send(self, child: _Child, message: tuple[Any, ...]) -> None:
        child.outbox += frame(message)
        self._write_out(child)

    def _write_out(self, child: _Child) -> None:
        while child.outbox:
            try:
                sent = os.write(child.requests, child.outbox)
            except BlockingIOError:
                break
            except OSError as exc:  # EPIPE: the writer died
                self._lost_child(child, exc)
                return
            del child.outbox[:sent]
        assert child.loop is not None
        if child.outbox and not child.writing:
            child.loop.add_writer(child.requests, self._write_out, child)
            child.writing = True
        elif not child.outbox and child.writing:
            child.loop.remove_writer(child.requests)
            child.writing = False

    def _on_replies(self, child: _Child) -> None:
        try:
            data = os.read(child.replies, 1 << 16)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost_child(child, exc)
            return
        if not data:
            if self._closed:  # the writer finished after close(): stop watching the pipe
                assert child.loop is not None
                child.loop.remove_reader(child.replies)
            else:
                self._lost_child(child, EOFError("the decision-log writer exited"))
            return
        for message in child.reader.feed(data):
            self._on_message(message)

    def _on_message(self, message: tuple[Any, ...]) -> None:
        if message[0] == "settled":
            _, rows, written, lost, rotated = message
            self._settled += rows
            WRITTEN.inc(written)
            if lost:
                WRITE_FAILURES.inc(lost)
            if rotated:
                ROTATIONS.inc(rotated)
        elif message[0] == "answer":
            _, ident, outcome = message
            answer = self._answers.pop(ident, None)
            if answer is not None and not answer.done():
                if isinstance(outcome, tuple):
                    kind, text = outcome
                    answer.set_exception(NotFound(text) if kind == NOT_FOUND else Unavailable(text))
                else:
                    answer.set_result(outcome)

    def _lost_child(self, child: _Child, exc: BaseException) -> None:
        if not child.alive:
            return
        child.alive = False
        child.detach()
        if child.process.poll() is None:
            child.process.kill()
        lost = self._queued - self._settled
        self._settled = self._queued
        self.failures.failed(exc, lost=lost, path=self.settings.path)
        for answer in self._answers.values():
            if not answer.done():
                answer.set_exception(Unavailable("the decision log's writer restarted; retry"))
        self._answers.clear()
        if self._child is child:
            self._child = None

    # -- feedback and shutdown ------------------------------------------------------------

    async def record_feedback(
        self, request_id: str, *, label: float, source: str, tenant: str | None = None
    ) -> int:
        """Attach a label to every decision with this request id; how many there were.

        NotFound when there is none (of `tenant`, when given); Unavailable when the log
        cannot be read or written.
        """
        return await self._ask(lambda ident: ("feedback", ident, request_id, label, source, tenant))

    async def flush(self) -> None:
        """Return once every decision queued before the call is written (or failed)."""
        await self._ask(lambda ident: ("flush", ident))

    async def _ask(self, message: Callable[[int], tuple[Any, ...]]) -> int:
        if self._closed:
            raise Unavailable("the decision log is closed")
        self._hand_over()
        child = self._running_child()
        if child is None:
            raise Unavailable("the decision log's writer is restarting; retry")
        self._next_id += 1
        ident = self._next_id
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._answers[ident] = answer
        self._send(child, message(ident))
        try:
            return await asyncio.wait_for(answer, FEEDBACK_TIMEOUT_S)
        except TimeoutError:
            raise Unavailable("the decision log is behind; retry the feedback") from None
        finally:
            self._answers.pop(ident, None)

    async def close(self) -> None:
        """Write what is queued, then stop the writer (bounded by CLOSE_TIMEOUT_S)."""
        if self._closed:
            return
        self._hand_over()
        self._closed = True
        child = self._child
        if child is None:
            return
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        while child.loop is not None and child.outbox and child.alive:
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.01)
        child.close_requests()  # end of input: the writer finishes and exits
        try:
            await asyncio.to_thread(child.process.wait, max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            await asyncio.to_thread(child.process.wait)
        # Its last replies (the final batches' counts) are in the pipe: read them.
        if child.alive and child.process.stdout is not None:
            os.set_blocking(child.replies, True)
            rest = child.process.stdout.read()
            for message in child.reader.feed(rest or b""):
                self._on_message(message)
        child.alive = False
        child.detach()
        self._child = None
