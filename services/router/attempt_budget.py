"""The hook an executor's attempt step spends money through (tenant budgets today; any
shared spend limit later).

Per attempt: `reserve(worst_case)` before the provider call (None: refused, the chain
stops as for the request's own budget), then exactly one of `settle(hold, actual)`
with the cost from the provider's reported usage, or `release(hold)` when the call
never happened or was cancelled. `release` is synchronous so it can run in an
`except BaseException` block without awaiting while a cancellation is unwinding.
"""

from __future__ import annotations

from typing import Protocol


class AttemptBudget(Protocol):
    async def reserve(self, worst_case_micros: int) -> object | None: ...

    async def settle(self, reservation: object, actual_micros: int) -> None: ...

    def release(self, reservation: object) -> None: ...
