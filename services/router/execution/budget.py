"""The one place spend is reserved before an attempt: a narrow hook for budget ledgers.

The attempt step (attempt.py) calls, around every provider call:

    reservation = await budget.reserve(worst_case_micros)   # None: refused, not called
    ... the call ...
    await budget.settle(reservation, actual_micros)          # shielded: runs to the end
    budget.release(reservation)                              # instead, when no cost is known

`release` is synchronous because it runs on the cancellation path (another ensemble
member won, the client hung up), where awaiting is not safe: an implementation that
needs I/O hands it to a task of its own, and a reservation's expiry is the backstop
for a router that dies mid-call. `reserve` may also raise a SwitchyardError (say,
ResourceExhausted with quota details), which ends the request with it.

The request's own budget (RouteRequest.budget_micros or the policy's) is enforced by the
run itself (`Run.can_afford`); this hook is for budgets shared between requests, such
as a tenant's spend per window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Reservation:
    """What a budget promised one attempt: `micros` held under the ledger's `key`."""

    key: str
    micros: int


class AttemptBudget(Protocol):
    async def reserve(self, worst_case_micros: int) -> Reservation | None: ...

    async def settle(self, reservation: Reservation, actual_micros: int) -> None: ...

    def release(self, reservation: Reservation) -> None: ...


class Unlimited:
    """No shared budget: every reservation is granted, nothing is recorded."""

    async def reserve(self, worst_case_micros: int) -> Reservation | None:
        return Reservation("", worst_case_micros)

    async def settle(self, reservation: Reservation, actual_micros: int) -> None:
        return None

    def release(self, reservation: Reservation) -> None:
        return None


UNLIMITED = Unlimited()
