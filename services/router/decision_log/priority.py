"""The decision-log writer's CPU priority: idle-class while it keeps up, background
(niceness +10) while it falls behind.

Why idle-class: at niceness +10 the writer's commits (a few ms of SQLite every half
second) still held a core against a router, model or caller that woke up meanwhile (the
kernel lets a running task finish its slice), and the single route's router-added p99
rose by 0.4-1.4 ms with the log on. A SCHED_IDLE task is preempted by any other at once
and runs only on time no one else wants.

Why not always: on a host with no idle time it would get next to none and the router's
queue would fill (decisions dropped, counted, alerted). A commit more than BEHIND_S late
says so, and the writer goes back to the normal policy until its commits are on time
again. Linux lets an unprivileged process leave SCHED_IDLE only within its RLIMIT_NICE,
so without CAP_SYS_NICE the switch back may be refused: it is logged once, and the
writer stays idle-class.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)

BEHIND_S = 1.0
CAUGHT_UP_S = 0.1
IDLE = getattr(os, "SCHED_IDLE", None)
NORMAL = getattr(os, "SCHED_OTHER", None)

SetPolicy = Callable[[int], None]


def _set_policy(policy: int) -> None:
    os.sched_setscheduler(0, policy, os.sched_param(0))


class WriterPriority:
    """Call `started` once, then `committed(late_s)` after every commit: how late it was
    against its due time (negative: early)."""

    def __init__(self, set_policy: SetPolicy = _set_policy) -> None:
        self._set = set_policy
        self.idle = False
        self._available = False
        self._refused = False

    def started(self) -> None:
        self.idle = self._available = self._switch(IDLE)

    def committed(self, late_s: float) -> None:
        if not self._available:
            return
        if not self.idle:
            if late_s < CAUGHT_UP_S:
                self.idle = self._switch(IDLE)
        elif late_s > BEHIND_S and not self._refused:
            if self._switch(NORMAL):
                self.idle = False
                log.info("decision_log.writer_behind", late_s=round(late_s, 2))
            else:
                self._refused = True
                log.warning(
                    "decision_log.writer_starved",
                    late_s=round(late_s, 2),
                    detail="may not leave SCHED_IDLE (no CAP_SYS_NICE): stays idle-class",
                )

    def _switch(self, policy: int | None) -> bool:
        if policy is None:
            return False
        try:
            self._set(policy)
        except (OSError, AttributeError):
            return False
        return True
