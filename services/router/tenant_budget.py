"""Tenant budgets on the request path: where the tenant stands in its window when a
request arrives, the budget its plan is steered to, and the per-request
`AttemptBudget` that reserves each attempt's worst case in the ledger.

Steering: once a tenant has used `steer_above` (default 80 %) of its window's limit,
its requests are planned against min(their own budget, what remains of the window),
so the selectors' budget filter drops the dear models first and `auto` picks a
cheaper cascade. A tenant with nothing left is refused before planning; an attempt the
window cannot hold is refused at reservation (the request's first: RESOURCE_EXHAUSTED
with QuotaFailure; a later one: the chain stops as it does for the request budget).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from services.router.ledger import BudgetLedger, Refused, Reservation, SpendWindow, WindowUsage
from services.router.spend_metrics import TENANT_BUDGET_REFUSALS
from switchyard.policy.budgets import TenantLimit, TenantLimits
from switchyard.runtime.errors import QuotaExhausted, QuotaViolation

# A reservation's lease runs this long past the request's deadline: calls are cut at the
# deadline, so only a router that died leaves a hold to expire.
LEASE_GRACE_S = 5.0


@dataclass(frozen=True)
class TenantAllowance:
    """A tenant's window as a request found it."""

    limit: TenantLimit
    usage: WindowUsage

    @property
    def window(self) -> SpendWindow:
        return self.usage.window

    @property
    def remaining_micros(self) -> int:
        return max(0, self.limit.limit_micros - self.usage.used_micros)

    @property
    def steering(self) -> bool:
        return self.usage.used_micros >= self.limit.steer_above * self.limit.limit_micros

    @property
    def budget_cap_micros(self) -> int | None:
        """The cap on the plan's budget: what remains, once past the steering threshold."""
        return self.remaining_micros if self.steering else None

    def exhausted(self, *, now_s: float, needed_micros: int = 0) -> QuotaExhausted:
        return quota_error(self.limit, self.usage, now_s=now_s, needed_micros=needed_micros)


def quota_error(
    limit: TenantLimit, usage: WindowUsage, *, now_s: float, needed_micros: int = 0
) -> QuotaExhausted:
    window = usage.window
    left = max(0, limit.limit_micros - usage.used_micros)
    need = f"; the next attempt's worst case is {needed_micros} µUSD" if needed_micros else ""
    description = (
        f"tenant {window.tenant!r} has used {usage.used_micros} of {limit.limit_micros} µUSD"
        f" in its {window.window_s} s window ({left} left{need})"
    )
    return QuotaExhausted(
        f"tenant budget exhausted: {description}; the window resets at"
        f" {window.reset_at_s} (Unix time)",
        violations=[QuotaViolation(subject=f"tenant:{window.tenant}", description=description)],
        reset_at_s=window.reset_at_s,
        now_s=now_s,
        metadata={
            "tenant": window.tenant,
            "limit_micros": str(limit.limit_micros),
            "used_micros": str(usage.used_micros),
            "window_s": str(window.window_s),
        },
    )


class TenantBudgets:
    def __init__(
        self,
        ledger: BudgetLedger,
        *,
        clock: Callable[[], float] = time.time,
        lease_grace_s: float = LEASE_GRACE_S,
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        self._lease_grace_s = lease_grace_s
        # Releases still being written, held here so none is dropped half-way.
        self._releases: set[asyncio.Task[None]] = set()

    def now(self) -> float:
        return self._clock()

    async def allowance(self, limits: TenantLimits, tenant: str) -> TenantAllowance | None:
        """Where `tenant` stands; None when the policy does not limit it."""
        limit = limits.for_tenant(tenant)
        if limit is None:
            return None
        window = SpendWindow.at(tenant, limit.window_s, self._clock())
        return TenantAllowance(limit, await self._ledger.usage(window))

    def attempt_budget(
        self, allowance: TenantAllowance, *, time_left_s: float
    ) -> TenantAttemptBudget:
        """The AttemptBudget of one request with `time_left_s` until its deadline."""
        lease_until_s = self._clock() + max(0.0, time_left_s) + self._lease_grace_s
        return TenantAttemptBudget(
            self._ledger,
            allowance,
            lease_until_s=lease_until_s,
            clock=self._clock,
            releases=self._releases,
        )

    async def drain(self) -> None:
        """Wait for releases still being written (shutdown, tests)."""
        if self._releases:
            await asyncio.gather(*list(self._releases), return_exceptions=True)


class TenantAttemptBudget:
    """One request's reservations against its tenant's window (an AttemptBudget)."""

    def __init__(
        self,
        ledger: BudgetLedger,
        allowance: TenantAllowance,
        *,
        lease_until_s: float,
        clock: Callable[[], float],
        releases: set[asyncio.Task[None]],
    ) -> None:
        self._ledger = ledger
        self._allowance = allowance
        self._lease_until_s = lease_until_s
        self._clock = clock
        self._reserved_before = False
        self._releases = releases
        # The window as the last refused reservation saw it.
        self.refusal: WindowUsage | None = None

    async def reserve(self, worst_case_micros: int) -> Reservation | None:
        outcome = await self._ledger.reserve(
            self._allowance.window,
            amount_micros=worst_case_micros,
            limit_micros=self._allowance.limit.limit_micros,
            lease_until_s=self._lease_until_s,
        )
        if isinstance(outcome, Refused):
            TENANT_BUDGET_REFUSALS.inc()
            self.refusal = outcome.usage
            if not self._reserved_before:
                # Nothing ran yet: the caller learns it is out of budget, and until when.
                raise quota_error(
                    self._allowance.limit,
                    outcome.usage,
                    now_s=self._clock(),
                    needed_micros=worst_case_micros,
                )
            return None
        self._reserved_before = True
        return outcome

    async def settle(self, reservation: object, actual_micros: int) -> None:
        assert isinstance(reservation, Reservation)
        await self._ledger.settle(reservation, actual_micros)

    def release(self, reservation: object) -> None:
        assert isinstance(reservation, Reservation)
        task = asyncio.ensure_future(self._ledger.release(reservation))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)
