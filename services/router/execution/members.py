"""Stages running at once (ensemble members), reported one by one as they end.

Leaving the `async with` block cancels the members still running and waits for their
cleanup, whatever ended the block (an early winner, an error, the request cancelled):
each cancelled attempt gives back its breaker probe and its reservation and is recorded
as CANCELLED by the attempt step.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from services.router.execution.attempt import AttemptRunner
from services.router.execution.records import Answer
from services.router.execution.run import Run
from services.router.execution.stage import run_stage
from services.router.plan import Candidate


class MemberCalls:
    def __init__(self, runner: AttemptRunner, run: Run) -> None:
        self._runner = runner
        self._run = run
        self._tasks: dict[asyncio.Task[Answer | None], Candidate] = {}

    @property
    def running(self) -> int:
        return len(self._tasks)

    def start(
        self,
        candidate: Candidate,
        *,
        min_score: float,
        scored: bool = False,
        max_retries: int | None = None,
    ) -> None:
        stage = run_stage(
            self._runner,
            self._run,
            candidate,
            min_score=min_score,
            scored=scored,
            max_retries=max_retries,
        )
        self._tasks[asyncio.ensure_future(stage)] = candidate

    async def next(
        self, *, timeout_s: float | None = None
    ) -> tuple[Candidate, Answer | None] | None:
        """The next member to end and its answer (members that end together are
        reported in chain order); None when `timeout_s` passes first. A member's
        exception is raised here."""
        done = [task for task in self._tasks if task.done()]
        if not done:
            waiters: set[asyncio.Future[object]] = set(self._tasks)
            timer = None
            if timeout_s is not None:
                timer = asyncio.ensure_future(self._runner.sleep(max(0.0, timeout_s)))
                waiters.add(timer)
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if timer is not None:
                    timer.cancel()
            done = [task for task in self._tasks if task.done()]
            if not done:
                return None
        task = min(done, key=lambda t: self._tasks[t].stage_index)
        candidate = self._tasks.pop(task)
        answer = task.result()
        self._runner.record_stage(
            self._run, candidate, accepted=answer is not None and answer.accepted
        )
        return candidate, answer

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> MemberCalls:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.cancel_all()
