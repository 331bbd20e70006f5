"""The decision log's writer process: a real child process of a real router, its death
and restart, its end at close, and what the request path may and may not wait for."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from services.router.decision_log import writer as writer_module
from services.router.decision_log import writer_process
from services.router.decision_log.query import DecisionReader
from services.router.decision_log.store import DecisionFiles
from services.router.decision_log.writer import WRITE_FAILURES, DecisionLog
from services.router.decision_log.writer_process import (
    WRITER_NICENESS,
    FrameReader,
    Writer,
    frame,
    serve,
)
from services.router.observers import RouteTrace
from services.router.testing import ask, sample_decision
from services.simulator.testing import RunningSimulator
from switchyard.runtime.errors import NotFound, Unavailable
from tests.router.decision_harness import LoggedRouter, logged_router


def _child_of(log: DecisionLog):  # type: ignore[no-untyped-def]
    child = log._child
    assert child is not None
    return child


async def _after_one_write(r: LoggedRouter) -> tuple[DecisionLog, subprocess.Popen[bytes]]:
    """One route routed and written: the log and its (running) writer process."""
    log = r.app.decision_log
    assert log is not None
    await r.stub.Route(ask())
    await log.flush()
    return log, _child_of(log).process


async def test_the_writer_is_a_child_process_that_exits_cleanly_at_close(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """Decisions are written by another process (not the router's), and close() writes
    what is queued and ends it with status 0: nothing is left running."""
    async for r in logged_router(simulator, tmp_path):
        log = r.app.decision_log
        assert log is not None
        process = _child_of(log).process
        reply = await r.stub.Route(ask())
        assert (await r.decisions())[0].decision.request_id == reply.request_id
        assert process.poll() is None and process.pid != 0
        # It runs below the router's priority: background work yields to routing.
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, process.pid) == min(19, mine + WRITER_NICENESS)
        # ...and idle-class while it keeps up: preempted at once by anything else.
        assert os.sched_getscheduler(process.pid) == os.SCHED_IDLE
        for _ in range(3):
            await r.stub.Route(ask())
        await log.close()
        assert process.returncode == 0
        assert len(DecisionReader(r.path).decisions()) == 4


async def test_a_killed_writer_is_counted_then_replaced(
    simulator: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 of the writer holding a sent batch: routing goes on; the decision it
    never wrote is counted as a write failure; feedback waiting on it is UNAVAILABLE,
    not hung; the next batch starts a new writer and decisions are written again."""
    monkeypatch.setattr(writer_module, "RESTART_INTERVAL_S", 0.0)
    async for r in logged_router(simulator, tmp_path):
        log = r.app.decision_log
        assert log is not None
        first = await r.stub.Route(ask())
        await log.flush()
        old = _child_of(log).process
        old.send_signal(signal.SIGSTOP)  # it holds what is sent next, unwritten
        trace = RouteTrace.start("lost-one")
        trace.finish()
        log.observe(trace)
        before = WRITE_FAILURES._value.get()
        waiting = asyncio.ensure_future(
            log.record_feedback(first.request_id, label=1.0, source="human")
        )
        await asyncio.sleep(0.1)
        assert not waiting.done() and log.waiting == 1
        old.send_signal(signal.SIGKILL)
        await asyncio.to_thread(old.wait, 5)
        with pytest.raises(Unavailable, match="restarted"):
            await waiting
        assert WRITE_FAILURES._value.get() - before == 1 and log.waiting == 0
        again = await r.stub.Route(ask())
        await log.flush()
        assert _child_of(log).process.pid != old.pid
        held = {d.decision.request_id for d in DecisionReader(r.path).decisions()}
        assert {first.request_id, again.request_id} <= held and "lost-one" not in held
        assert await log.record_feedback(again.request_id, label=1.0, source="human") == 1


async def test_within_the_restart_interval_decisions_are_counted_lost_not_queued(
    simulator: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that died a moment ago is not restarted in a loop: until the interval
    passes, batches are counted as failures and feedback is UNAVAILABLE at once."""
    monkeypatch.setattr(writer_module, "RESTART_INTERVAL_S", 3600.0)
    async for r in logged_router(simulator, tmp_path):
        log, process = await _after_one_write(r)
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 5)
        with pytest.raises(Unavailable):
            await log.flush()  # finds the dead pipe
        before = WRITE_FAILURES._value.get()
        reply = await r.stub.Route(ask())
        assert reply.answer
        with pytest.raises(Unavailable):
            await log.flush()
        assert WRITE_FAILURES._value.get() - before == 1
        assert log.waiting == 0


def test_frames_survive_arriving_in_pieces() -> None:
    """The router reads replies as the pipe gives them: split anywhere, frames come out
    whole and in order."""
    data = frame(("settled", 3, 2, 1, 0)) + frame(("answer", 7, ("not_found", "no")))
    reader = FrameReader()
    out = []
    for i in range(0, len(data), 5):
        out += reader.feed(data[i : i + 5])
    assert out == [("settled", 3, 2, 1, 0), ("answer", 7, ("not_found", "no"))]


def decision_row(request_id: str) -> tuple[object, ...]:
    return sample_decision(request_id, pad=10).row()


class _Replies(io.RawIOBase):
    """The writer's stdout, as frames the test can wait for."""

    def __init__(self) -> None:
        self.reader = FrameReader()
        self.messages: list[tuple[object, ...]] = []
        self.arrived = threading.Condition()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[no-untyped-def, override]
        with self.arrived:
            self.messages += self.reader.feed(bytes(data))
            self.arrived.notify_all()
        return len(data)

    def wait_for(self, count: int, timeout_s: float) -> list[tuple[object, ...]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout_s)
            return list(self.messages)


def test_frames_that_arrive_together_are_committed_in_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three frames of rows sent at once are held and committed together once
    COMMIT_DELAY_S has passed (one `settled` for all of them); a flush commits what is
    held at once, and its answer comes after the rows' `settled`; end of input commits
    the rest and serve returns."""
    monkeypatch.setattr(writer_process, "COMMIT_DELAY_S", 0.3)
    files = DecisionFiles(tmp_path / "d.db", max_bytes=64 * 1024 * 1024, rotations=0)
    committed: list[int] = []
    writer = Writer(files)
    write_rows = writer.rows

    def counted(rows: list[tuple[object, ...]]) -> tuple[int, int, int]:
        committed.append(len(rows))
        return write_rows(rows)

    monkeypatch.setattr(writer, "rows", counted)
    requests, feed = os.pipe()
    replies = _Replies()
    thread = threading.Thread(target=serve, args=(writer, requests, replies))
    thread.start()
    try:
        started = time.monotonic()
        os.write(feed, b"".join(frame(("rows", [decision_row(f"r{i}")])) for i in range(3)))
        assert replies.wait_for(1, 5.0) == [("settled", 3, 3, 0, 0)]
        assert time.monotonic() - started >= 0.3 and committed == [3]
        os.write(feed, frame(("rows", [decision_row("r3")])) + frame(("flush", 9)))
        assert replies.wait_for(3, 0.25)[1:] == [("settled", 1, 1, 0, 0), ("answer", 9, 0)]
        os.write(feed, frame(("rows", [decision_row("r4")])))
    finally:
        os.close(feed)
        thread.join(5.0)
    assert not thread.is_alive() and committed == [3, 1, 1]
    assert replies.messages[-1] == ("settled", 1, 1, 0, 0)
    files.close()
    held = {d.decision.request_id for d in DecisionReader(tmp_path / "d.db").decisions()}
    assert held == {f"r{i}" for i in range(5)}


def test_the_writer_answers_feedback_for_unknown_ids_with_not_found(tmp_path: Path) -> None:
    writer = Writer(DecisionFiles(tmp_path / "d.db", max_bytes=64 * 1024 * 1024, rotations=0))
    assert writer.handle(("feedback", 1, "nope", 1.0, "human", None)) == (
        "answer",
        1,
        ("not_found", "no decision with request id 'nope'"),
    )
    assert writer.handle(("flush", 2)) == ("answer", 2, 0)
    with pytest.raises(ValueError, match="unknown"):
        writer.handle(("bogus",))
    writer.files.close()


async def test_unknown_feedback_through_the_process_is_not_found(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    async for r in logged_router(simulator, tmp_path):
        assert r.app.decision_log is not None
        with pytest.raises(NotFound):
            await r.app.decision_log.record_feedback("never-seen", label=0.5, source="human")


async def test_close_with_a_stuck_writer_is_bounded_and_kills_it(
    simulator: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that cannot go on (stopped) does not hold the router's shutdown: close()
    returns after CLOSE_TIMEOUT_S and the writer is killed, not left behind."""
    monkeypatch.setattr(writer_module, "CLOSE_TIMEOUT_S", 0.5)
    async for r in logged_router(simulator, tmp_path):
        log, process = await _after_one_write(r)
        process.send_signal(signal.SIGSTOP)
        await r.stub.Route(ask())
        started = asyncio.get_running_loop().time()
        await log.close()
        assert asyncio.get_running_loop().time() - started < 3.0
        assert process.returncode == -signal.SIGKILL
