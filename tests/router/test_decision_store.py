"""The decision log's files: the size bound over every file, rotation, and what a full
disk or a read-only directory does (real SQLite files; tmpfs mounts where allowed)."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.router.decision_log import DecisionLog, DecisionLogSettings
from services.router.decision_log.query import DecisionReader
from services.router.decision_log.store import (
    INSERT_ROWS,
    MIN_FILE_BYTES,
    DecisionFiles,
    disk_bytes,
    log_files,
    rotated_path,
)
from services.router.decision_log.writer import WRITE_FAILURES, FailureReport
from services.router.observers import RouteTrace
from services.router.testing import sample_decision

MIB = 1024 * 1024


def total_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.parent.iterdir() if f.name.startswith(path.stem))


def test_the_files_never_pass_the_bound_and_rotate_oldest_out(tmp_path: Path) -> None:
    """Thousands of decisions into a 3 MiB, 2-rotation log: after every batch the files
    together (db, WAL, index) stay within 3 MiB; the oldest decisions are gone, the
    newest readable, and there are never more than 3 files."""
    path = tmp_path / "decisions.db"
    files = DecisionFiles(path, max_bytes=3 * MIB, rotations=2)
    rotations = 0
    for batch in range(300):
        rotations += files.write([sample_decision(f"r{batch}-{i}").row() for i in range(20)])
        assert total_bytes(path) <= 3 * MIB
        assert len(log_files(path)) <= 3
    files.close()
    assert rotations >= 3
    assert not rotated_path(path, 3).exists()
    reader = DecisionReader(path)
    held = {d.decision.request_id for d in reader.decisions()}
    assert "r299-19" in held and "r0-0" not in held
    # Each file is filled close to its share before it rotates: the bound is used.
    assert len(held) * 1100 > 1.5 * MIB


def test_without_rotations_a_full_file_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "decisions.db"
    files = DecisionFiles(path, max_bytes=MIN_FILE_BYTES, rotations=0)
    for batch in range(120):
        files.write([sample_decision(f"r{batch}-{i}").row() for i in range(10)])
        assert total_bytes(path) <= MIN_FILE_BYTES
    files.close()
    assert log_files(path) == [path]
    held = {d.decision.request_id for d in DecisionReader(path).decisions()}
    assert "r119-9" in held and "r0-0" not in held


def test_a_batch_over_one_statements_rows_is_written_whole_and_in_order(
    tmp_path: Path,
) -> None:
    """A batch of 2.5 statements' worth of rows (INSERT_ROWS each): every decision is
    stored once, with its own values in its own columns, at the chunk edges too."""
    path = tmp_path / "decisions.db"
    files = DecisionFiles(path, max_bytes=64 * MIB, rotations=0)
    count = INSERT_ROWS * 2 + INSERT_ROWS // 2
    written = [sample_decision(f"r{i}", pad=20, time_unix=float(i)) for i in range(count)]
    files.write([d.row() for d in written])
    files.close()
    held = {d.decision.request_id: d.decision for d in DecisionReader(path).decisions()}
    assert len(held) == count
    for i in (0, INSERT_ROWS - 1, INSERT_ROWS, count - 1):
        assert held[f"r{i}"] == written[i]


def test_a_bound_too_small_for_one_file_is_refused() -> None:
    with pytest.raises(ValueError, match="per file"):
        DecisionLogSettings(path=Path("x.db"), max_bytes=2 * MIB, rotations=3)


def test_feedback_finds_decisions_in_rotated_files(tmp_path: Path) -> None:
    """A label for a decision that has rotated out of the active file still lands."""
    path = tmp_path / "decisions.db"
    files = DecisionFiles(path, max_bytes=2 * MIB, rotations=1)
    files.write([sample_decision("old-one").row()])
    files.rotate()
    files.write([sample_decision("new-one").row()])
    assert files.holds("old-one", tenant=None) == 1
    assert files.holds("old-one", tenant="globex") == 0
    files.add_feedback("old-one", source="human", label=0.5)
    files.close()
    [old] = DecisionReader(path).find("old-one")
    assert [(lb.source, lb.label) for lb in old.labels] == [("human", 0.5)]


def test_failures_are_logged_at_most_once_a_minute() -> None:
    """Every lost decision is counted; the log line waits a minute and then says how many
    were lost since the last one."""
    now = [0.0]
    report = FailureReport(clock=lambda: now[0])
    before = WRITE_FAILURES._value.get()
    logged = []
    for lost, at in ((3, 0.0), (2, 30.0), (4, 59.0), (1, 61.0)):
        now[0] = at
        report.failed(OSError("disk full"), lost=lost, path=Path("d.db"))
        logged.append(report.last_logged)
    assert WRITE_FAILURES._value.get() - before == 10
    assert logged == [0.0, 0.0, 0.0, 61.0] and report.unlogged == 0


@contextlib.contextmanager
def tmpfs(where: Path, *, size: str, read_only: bool = False) -> Iterator[Path]:
    """A real, small filesystem: full when it is full, read-only when mounted so."""
    where.mkdir()
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, f"sy-{uuid.uuid4().hex[:8]}", str(where)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def finished(request_id: str) -> RouteTrace:
    trace = RouteTrace.start(request_id)
    trace.finish()
    return trace


async def test_a_full_disk_is_counted_and_the_log_recovers_when_space_returns(
    tmp_path: Path,
) -> None:
    """On a filesystem with no space left writes fail and are counted, observe() never
    raises; once space is freed the next decisions are written again."""
    with tmpfs(tmp_path / "small", size="1m") as disk:
        filler = disk / "filler"
        log = DecisionLog(DecisionLogSettings(path=disk / "decisions.db", max_bytes=8 * MIB))
        try:
            log.observe(finished("before"))
            await log.flush()
            with filler.open("wb") as handle, contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * 65536)
            before = WRITE_FAILURES._value.get()
            for i in range(400):
                log.observe(finished(f"while-full-{i}"))
            await log.flush()
            assert WRITE_FAILURES._value.get() - before > 0
            filler.unlink()
            log.observe(finished("after"))
            await log.flush()
        finally:
            await log.close()
        held = {d.decision.request_id for d in DecisionReader(disk / "decisions.db").decisions()}
        assert {"before", "after"} <= held


async def test_a_read_only_log_directory_is_counted_never_raised(tmp_path: Path) -> None:
    """A log on a read-only filesystem: every decision counted as a write failure, and
    feedback is UNAVAILABLE rather than a crash."""
    from switchyard.runtime.errors import Unavailable

    with tmpfs(tmp_path / "ro", size="1m", read_only=True) as disk:
        log = DecisionLog(DecisionLogSettings(path=disk / "decisions.db"))
        try:
            before = WRITE_FAILURES._value.get()
            for i in range(5):
                log.observe(finished(f"r{i}"))
            await log.flush()
            assert WRITE_FAILURES._value.get() - before == 5
            with pytest.raises(Unavailable):
                await log.record_feedback("r1", label=1.0, source="human")
        finally:
            await log.close()
        assert log_files(disk / "decisions.db") == []
    assert disk_bytes(tmp_path / "ro" / "decisions.db") == 0
