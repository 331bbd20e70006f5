"""The launcher (`switchyard run`, what `make run` starts) leaves no service behind:
not on Ctrl-C, SIGTERM or the terminal closing, not on a second signal while the
services drain, and not when it is itself killed with SIGKILL.

Each test starts the real launcher on ephemeral ports with its own state dir, so it
never collides with a `make run` on the default ports. A service is found by its
command line, which names a file in that state dir (`--port-file`); that finds
services the launcher no longer knows about, such as orphans and verifier workers.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STARTUP_S = 60.0
# The launcher gives each service 10 s to drain; idle services need well under 1 s.
STOP_S = 8.0
# Banner line printed after the table of services with their pids.
TABLE_END = b"\nRouter: "
TABLE_ROW = re.compile(rb"^ +(\S+) +\S+:\d+ +pid (\d+)", re.MULTILINE)
STOP_SIGNALS = [signal.SIGHUP, signal.SIGTERM, signal.SIGINT]


@dataclass
class Launcher:
    process: subprocess.Popen[bytes]
    state_dir: Path
    output_fd: int  # stdout and stderr: a pipe, or a pseudo-terminal's master side

    def wait_until_up(self) -> dict[str, int]:
        """Read the banner; return each service's pid as the launcher printed it."""
        seen = read_until(self.output_fd, TABLE_END, time.monotonic() + STARTUP_S)
        return {name.decode(): int(pid) for name, pid in TABLE_ROW.findall(seen)}

    def assert_stopped_cleanly(self, pids: set[int], *, within_s: float = STOP_S) -> None:
        """The launcher exits 0 within `within_s` and no service outlives it."""
        try:
            code = self.process.wait(within_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the launcher was still running {within_s} s after the signal")
        assert_all_gone(self.state_dir, pids, within_s=0.5)
        assert code == 0, f"the launcher exited with {code}"


def read_until(fd: int, marker: bytes, deadline: float) -> bytes:
    seen = b""
    while marker not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"no {marker!r} from the launcher in time; it printed {seen!r}")
        if select.select([fd], [], [], remaining)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the terminal's other side closed
                chunk = b""
            if not chunk:
                pytest.fail(f"the launcher exited while starting; it printed {seen!r}")
            seen += chunk
    return seen


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first); None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def running(pid: int) -> bool:
    fields = proc_stat(pid)
    return fields is not None and fields[0] != "Z"  # a zombie holds no port


def services_of(state_dir: Path) -> dict[int, int]:
    """pid -> parent pid of every live process whose command line names a file in
    state_dir: the services (the launcher names only the directory itself)."""
    needle = str(state_dir).encode() + b"/"
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = proc_stat(int(entry.name))
        if needle in cmdline and fields is not None and fields[0] != "Z":
            found[int(entry.name)] = int(fields[1])
    return found


def assert_all_gone(state_dir: Path, pids: set[int], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        left = {pid for pid in pids if running(pid)} | set(services_of(state_dir))
        if not left:
            return
        time.sleep(0.05)
    pytest.fail(f"still running {within_s} s later: {sorted(left)}")


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., Launcher]]:
    """Start `switchyard run` on ephemeral ports; kill whatever is left at the end."""
    started: list[Launcher] = []

    def start(*, terminal: bool = False, env: dict[str, str] | None = None) -> Launcher:
        state_dir = tmp_path / "state"
        command = [sys.executable, "-m", "switchyard.cli.main", "run"]
        command += ["--state-dir", str(state_dir), "--ports", "ephemeral"]
        environ = {k: v for k, v in os.environ.items() if k != "SWITCHYARD_VERIFIER_WORKERS"}
        environ.update(env or {})
        if terminal:
            # A pseudo-terminal as the launcher's controlling terminal, as in a shell
            # window; closing its master side is closing the window.
            master, slave = os.openpty()
            process = subprocess.Popen(
                command,
                cwd=REPO,
                env=environ,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
                preexec_fn=take_controlling_terminal,
            )
            os.close(slave)
            output_fd = master
        else:
            process = subprocess.Popen(
                command,
                cwd=REPO,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            assert process.stdout is not None
            output_fd = process.stdout.fileno()
        launcher = Launcher(process, state_dir, output_fd)
        started.append(launcher)
        return launcher

    yield start
    for launcher in started:
        launcher.process.kill()
        launcher.process.wait()
        for pid in services_of(launcher.state_dir):
            os.kill(pid, signal.SIGKILL)
        if launcher.process.stdout is not None:
            launcher.process.stdout.close()
        else:
            try:
                os.close(launcher.output_fd)
            except OSError:
                pass  # the test already closed it


def take_controlling_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def assert_children_are_the_services(launcher: Launcher, printed: dict[str, int]) -> None:
    """The printed pids are exactly the launcher's children: the five services."""
    assert set(printed) == {"simulator", "registry", "verifier", "controlplane", "router"}
    children = {
        pid for pid, ppid in services_of(launcher.state_dir).items() if ppid == launcher.process.pid
    }
    assert children == set(printed.values())


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=lambda s: s.name)
def test_stop_signal_stops_every_service(launch, signum: signal.Signals) -> None:
    """SIGHUP, SIGTERM and SIGINT each make the launcher stop every service and exit 0."""
    launcher = launch()
    printed = launcher.wait_until_up()
    assert_children_are_the_services(launcher, printed)
    launcher.process.send_signal(signum)
    launcher.assert_stopped_cleanly(set(printed.values()))


def test_closing_the_terminal_stops_every_service(launch) -> None:
    """Closing the launcher's terminal (hang-up, then EIO on every write to it) stops
    every service, and the launcher still exits 0."""
    launcher = launch(terminal=True)
    printed = launcher.wait_until_up()
    assert_children_are_the_services(launcher, printed)
    os.close(launcher.output_fd)
    launcher.assert_stopped_cleanly(set(printed.values()))


def test_second_signal_kills_services_still_draining(launch) -> None:
    """A second signal while the services drain kills them at once, instead of waiting
    out the 10 s grace of a service that does not stop."""
    launcher = launch()
    printed = launcher.wait_until_up()
    os.kill(printed["router"], signal.SIGSTOP)  # a router that never finishes draining
    launcher.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert launcher.process.poll() is None, "the launcher must still wait for the router"
    launcher.process.send_signal(signal.SIGTERM)
    launcher.assert_stopped_cleanly(set(printed.values()), within_s=3.0)


def test_killed_launcher_leaves_no_service(launch) -> None:
    """When the launcher is killed with SIGKILL, every service stops within seconds,
    verifier workers (the launcher's grandchildren) included."""
    launcher = launch(env={"SWITCHYARD_VERIFIER_WORKERS": "2"})
    printed = launcher.wait_until_up()
    everything = services_of(launcher.state_dir)
    worker = {pid for pid, ppid in everything.items() if ppid == printed["verifier"]}
    assert len(worker) == 1, everything
    launcher.process.kill()
    launcher.process.wait()
    assert_all_gone(launcher.state_dir, set(everything), within_s=STOP_S)


def test_signal_while_starting_stops_what_started(launch) -> None:
    """A stop signal before the suite is up stops the services started so far and the
    launcher exits 0."""
    launcher = launch()
    deadline = time.monotonic() + STARTUP_S
    while not services_of(launcher.state_dir):
        assert time.monotonic() < deadline, "the launcher started no service"
        assert launcher.process.poll() is None, "the launcher exited while starting"
        time.sleep(0.02)
    launcher.process.send_signal(signal.SIGTERM)
    launcher.assert_stopped_cleanly(set())
