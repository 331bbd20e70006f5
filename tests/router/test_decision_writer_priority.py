"""The decision-log writer's CPU priority (priority.py): idle-class while its commits are
on time, the normal policy while they are late, and what happens when the OS refuses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from services.router.decision_log.priority import (
    BEHIND_S,
    IDLE,
    NORMAL,
    WriterPriority,
)

pytestmark = pytest.mark.skipif(IDLE is None, reason="no SCHED_IDLE on this platform")


class Policies:
    """Records the policies asked for; refuses the ones in `refused`."""

    def __init__(self, refused: tuple[int | None, ...] = ()) -> None:
        self.asked: list[int] = []
        self.refused = refused

    def __call__(self, policy: int) -> None:
        self.asked.append(policy)
        if policy in self.refused:
            raise PermissionError("not permitted")


def test_idle_while_on_time_normal_while_behind_then_idle_again() -> None:
    policies = Policies()
    priority = WriterPriority(policies)
    priority.started()
    assert priority.idle and policies.asked == [IDLE]
    priority.committed(-0.2)
    priority.committed(BEHIND_S * 0.9)  # late, but not starved
    assert priority.idle and policies.asked == [IDLE]
    priority.committed(BEHIND_S + 0.5)
    assert not priority.idle and policies.asked == [IDLE, NORMAL]
    priority.committed(0.5)  # catching up: stays normal
    assert policies.asked == [IDLE, NORMAL]
    priority.committed(0.0)
    assert priority.idle and policies.asked == [IDLE, NORMAL, IDLE]


def test_a_refused_switch_back_is_tried_once_and_the_writer_stays_idle() -> None:
    """Without CAP_SYS_NICE Linux may refuse leaving SCHED_IDLE: one attempt, no retry
    loop on every late commit."""
    policies = Policies(refused=(NORMAL,))
    priority = WriterPriority(policies)
    priority.started()
    for _ in range(3):
        priority.committed(BEHIND_S + 1)
    assert priority.idle and policies.asked == [IDLE, NORMAL]


def test_without_idle_class_nothing_more_is_asked() -> None:
    policies = Policies(refused=(IDLE,))
    priority = WriterPriority(policies)
    priority.started()
    priority.committed(BEHIND_S + 1)
    priority.committed(0.0)
    assert not priority.idle and policies.asked == [IDLE]


def test_the_default_switches_the_calling_process() -> None:
    """The real system call, in a process of its own: its policy becomes SCHED_IDLE."""
    script = (
        "import os; from services.router.decision_log.priority import WriterPriority\n"
        "p = WriterPriority(); p.started()\n"
        "print(p.idle, os.sched_getscheduler(0) == os.SCHED_IDLE)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]
