"""Tie a child process's life to its parent's: when the parent dies, even by SIGKILL,
the kernel sends the child a signal (Linux `prctl(PR_SET_PDEATHSIG)`).

This file is also a tiny wrapper program: `tethered(command)` returns a command line
that runs this file, which sets the parent-death signal on itself and then execs
`command` in the same process (same pid; the setting survives exec). A wrapper instead
of `subprocess`'s `preexec_fn`: no Python runs between fork and exec in a parent that
has other threads (gRPC's), where that can deadlock. The wrapper imports only the
standard library and runs with `-I -S`, so it adds about 15 ms to a start.

The kernel fires the signal when the *thread* that forked the child exits, not the
process. Fork tethered children from a thread that lives as long as they should: the
main thread (the one `asyncio.run` runs on).

On other systems `tethered` returns the command unchanged.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def tethered(command: Sequence[str], *, signum: int = signal.SIGTERM) -> list[str]:
    """`command`, run so that it gets `signum` when this process (this thread) dies."""
    if not sys.platform.startswith("linux"):
        return list(command)
    return [
        sys.executable, "-I", "-S", str(Path(__file__).resolve()),
        str(os.getpid()), str(int(signum)), *command,
    ]  # fmt: skip


def set_parent_death_signal(signum: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")


def main(argv: Sequence[str]) -> int:
    parent, signum, *command = argv
    set_parent_death_signal(int(signum))
    # The parent may have died between fork and prctl; then nothing would ever signal
    # us, and we would run orphaned. Checked after prctl, so there is no gap.
    if os.getppid() != int(parent):
        print(f"parent {parent} is gone; not starting {command[0]}", file=sys.stderr)
        return 1
    os.execv(command[0], command)
    return 1  # not reached: execv replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
