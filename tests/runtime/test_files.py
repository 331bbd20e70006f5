"""Atomic file writes (switchyard/runtime/files.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchyard.runtime import files
from switchyard.runtime.files import write_atomically


def test_write_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    """The target holds the new content and no temporary file stays beside it."""
    target = tmp_path / "sub" / "snapshot.pb"
    write_atomically(target, b"old")
    write_atomically(target, "new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["snapshot.pb"]


def test_failed_write_keeps_the_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash before the rename leaves the previous file untouched and cleans up."""
    target = tmp_path / "policy.pb"
    write_atomically(target, b"good")

    def boom(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(OSError):
        write_atomically(target, b"half")
    assert target.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["policy.pb"]
