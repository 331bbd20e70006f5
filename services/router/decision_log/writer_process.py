"""The decision log's writer: a child process of the router that owns the SQLite files.

    python -m services.router.decision_log.writer_process PATH MAX_BYTES ROTATIONS

The router sends frames on the child's stdin and reads replies on its stdout. A frame
is a 4-byte big-endian length and a pickle (the two ends are one program: nothing else
writes to these pipes). Requests:

    ("rows", [row, ...])                         -> ("settled", decisions, written, lost, rotated)
                                                    (for every frame one commit took)
    ("feedback", id, request_id, label, source, tenant) -> ("answer", id, found | (kind, message))
    ("flush", id)                                 -> ("answer", id, 0)

End of stdin: the child writes what it holds, closes the files and exits 0.

Why a process: SQLite's insert is the larger half of a decision's cost, and on the
router's own thread it competes with the event loop for the GIL (every statement takes
it back) and for the router's core; in a process of its own it does neither. A failed
write (disk full, read-only or missing directory) is logged here at most once a minute
and reported in `settled`, which the router counts in its metrics.
"""

from __future__ import annotations

import os
import pickle
import select
import sqlite3
import struct
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from services.router.decision_log.failures import FailureReport
from services.router.decision_log.priority import WriterPriority
from services.router.decision_log.store import DecisionFiles

HEADER = struct.Struct(">I")
WRITER_NICENESS = 10
# Rows are committed this long after the first of them arrived, or at this many: each
# transaction writes every index page it touched, so fewer, larger ones cost less CPU
# per decision (random caller-chosen request ids: 25 µs at 32 rows a commit, 16 at 512,
# 12 at 4,096; `python -m bench.decision_store_bench`). A writer killed meanwhile loses
# them, counted by the router.
COMMIT_DELAY_S = 0.5
COMMIT_ROWS = 4096
NOT_FOUND = "not_found"
UNAVAILABLE = "unavailable"


def frame(message: tuple[Any, ...]) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


class FrameReader:
    """Frames out of a byte stream that arrives in pieces (both ends read with it)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[Any, ...]]:
        self._buffer += data
        messages = []
        while len(self._buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buffer)
            end = HEADER.size + size
            if len(self._buffer) < end:
                break
            messages.append(pickle.loads(self._buffer[HEADER.size : end]))
            del self._buffer[:end]
        return messages


class Writer:
    """The child's state: the files and the rate-limited failure log."""

    def __init__(self, files: DecisionFiles) -> None:
        self.files = files
        self.failures = FailureReport()

    def rows(self, rows: Sequence[tuple[object, ...]]) -> tuple[int, int, int]:
        """(written, lost, rotations) of one batch, in transactions of at most the
        file's batch share (store.py)."""
        written = lost = rotations = 0
        chunk: list[tuple[object, ...]] = []
        size = 0
        for row in [*rows, None]:
            row_bytes = 0 if row is None else len(row[-1]) + 256  # type: ignore[arg-type]
            if chunk and (row is None or size + row_bytes > self.files.share.batch_bytes):
                outcome = self._commit(chunk)
                written, lost, rotations = (
                    written + outcome[0],
                    lost + outcome[1],
                    rotations + outcome[2],
                )
                chunk, size = [], 0
            if row is not None:
                chunk.append(row)
                size += row_bytes
        return written, lost, rotations

    def _commit(self, rows: list[tuple[object, ...]]) -> tuple[int, int, int]:
        try:
            rotated = self.files.write(rows)
        except (sqlite3.Error, OSError) as exc:
            # SQLite rolled the batch back; the same connection writes again once the
            # disk has room (or opens the file once the directory can hold it).
            self.failures.failed(exc, lost=len(rows), path=self.files.path)
            return 0, len(rows), 0
        except Exception as exc:  # the writer must outlive any one bad batch
            self.failures.failed(exc, lost=len(rows), path=self.files.path)
            return 0, len(rows), 0
        return len(rows), 0, int(rotated)

    def feedback(
        self, request_id: str, label: float, source: str, tenant: str | None
    ) -> int | tuple[str, str]:
        try:
            found = self.files.holds(request_id, tenant=tenant)
            if not found:
                return NOT_FOUND, f"no decision with request id {request_id!r}"
            self.files.add_feedback(request_id, source=source, label=label)
        except (sqlite3.Error, OSError) as exc:
            self.failures.failed(exc, lost=1, path=self.files.path)
            return UNAVAILABLE, "the decision log cannot be written; retry the feedback later"
        return found

    def handle(self, message: tuple[Any, ...]) -> tuple[Any, ...]:
        kind = message[0]
        if kind == "rows":
            rows = message[1]
            return ("settled", len(rows), *self.rows(rows))
        if kind == "feedback":
            _, ident, request_id, label, source, tenant = message
            return ("answer", ident, self.feedback(request_id, label, source, tenant))
        if kind == "flush":
            return ("answer", message[1], 0)
        raise ValueError(f"unknown decision-log message {kind!r}")


class Held:
    """Rows received and not yet committed: one transaction takes every frame that
    arrived within COMMIT_DELAY_S (or COMMIT_ROWS rows), not one per frame."""

    def __init__(self) -> None:
        self.rows: list[tuple[object, ...]] = []
        self.since = 0.0

    def add(self, rows: Sequence[tuple[object, ...]]) -> None:
        if not self.rows:
            self.since = time.monotonic()
        self.rows.extend(rows)

    def due(self) -> float | None:
        """Seconds until the held rows must be committed; None when none are held."""
        if not self.rows:
            return None
        if len(self.rows) >= COMMIT_ROWS:
            return 0.0
        return max(0.0, self.since + COMMIT_DELAY_S - time.monotonic())


def serve(
    writer: Writer, requests: int, replies: BinaryIO, priority: WriterPriority | None = None
) -> None:
    """Answer frames from the file descriptor `requests` until it ends; rows are held
    (Held) and reported `settled` once committed, feedback and flushes commit first.
    `priority` hears how late each commit was."""
    reader = FrameReader()
    held = Held()

    def commit() -> None:
        if held.rows:
            late_s = time.monotonic() - held.since - COMMIT_DELAY_S
            rows, held.rows = held.rows, []
            replies.write(frame(("settled", len(rows), *writer.rows(rows))))
            replies.flush()
            if priority is not None:
                priority.committed(late_s)

    while True:
        wait = held.due()
        if wait is not None and wait <= 0:
            commit()
            continue
        ready, _, _ = select.select([requests], [], [], wait)
        if not ready:
            continue  # the held rows are due: committed at the top of the loop
        data = os.read(requests, 1 << 20)
        if not data:
            break
        for message in reader.feed(data):
            if message[0] == "rows":
                held.add(message[1])
            else:  # it must see every decision sent before it
                commit()
                replies.write(frame(writer.handle(message)))
                replies.flush()
    commit()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3:
        print("usage: writer_process PATH MAX_BYTES ROTATIONS", file=sys.stderr)
        return 2
    from switchyard.runtime.logging import configure_logging

    configure_logging(service="router-decision-log")
    # Background work: on a busy host the router, its models and its callers go first;
    # the writer catches up when a core is free (the router's queue bounds the backlog).
    # Idle-class on top while it keeps up (priority.py); this niceness while it is behind.
    os.nice(WRITER_NICENESS)
    priority = WriterPriority()
    priority.started()
    files = DecisionFiles(Path(args[0]), max_bytes=int(args[1]), rotations=int(args[2]))
    try:
        serve(Writer(files), sys.stdin.fileno(), sys.stdout.buffer, priority)
    except BrokenPipeError:
        pass  # the router went away: nobody reads the replies, the rows are written
    finally:
        files.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
