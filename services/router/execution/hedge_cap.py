"""The hedge cap: how many requests a rule may hedge, and what hedges may spend.

Pure accounting over fixed windows of `window_ms`, counted from the first request the
account saw (window k covers [t0 + k·W, t0 + (k+1)·W)). Within a window:

- a hedge is admitted only while hedges + 1 ≤ share × requests seen so far in it, so the
  share of the window's requests that were hedged never passes `share`;
- its worst-case cost is charged when admitted, and admitted only while the charges
  stay within `micros`; settling lowers the charge to the actual cost (a hedge
  cancelled before it answered keeps its worst case: its real cost is unknown). An
  actual cost above the worst case (the prompt-size estimate was low) is charged in
  full, which only stops further hedges in that window.

A time earlier than the current window (clocks do not go back, but callers may race)
counts in the current window. Settling a ticket from an earlier window changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from switchyard.policy import HedgeCap

_EPSILON = 1e-9


@dataclass(frozen=True)
class HedgeTicket:
    window: int
    micros: int


class HedgeAccount:
    def __init__(self, cap: HedgeCap) -> None:
        self.cap = cap
        self.origin: float | None = None
        self.window = -1
        self.requests = 0
        self.hedges = 0
        self.micros = 0

    def reconfigure(self, cap: HedgeCap) -> None:
        """New limits (a new policy version); the current window's counts carry over."""
        if cap.window_ms != self.cap.window_ms:
            self.origin, self.window = None, -1  # windows of another length: start afresh
        self.cap = cap

    def _roll(self, now_s: float) -> None:
        if self.origin is None:
            self.origin = now_s
        index = math.floor((now_s - self.origin) * 1000.0 / self.cap.window_ms)
        if index > self.window:
            self.window, self.requests, self.hedges, self.micros = index, 0, 0, 0

    def note_request(self, now_s: float) -> None:
        """A request of the rule arrived (hedged or not)."""
        self._roll(now_s)
        self.requests += 1

    def admit(self, now_s: float, worst_case_micros: int) -> HedgeTicket | None:
        self._roll(now_s)
        if self.hedges + 1 > self.cap.share * self.requests + _EPSILON:
            return None
        if self.micros + worst_case_micros > self.cap.micros:
            return None
        self.hedges += 1
        self.micros += worst_case_micros
        return HedgeTicket(self.window, worst_case_micros)

    def settle(self, ticket: HedgeTicket, actual_micros: int) -> None:
        if ticket.window == self.window:
            self.micros += actual_micros - ticket.micros


class HedgeAccounts:
    """One HedgeAccount per rule name, following the policy version in force."""

    def __init__(self) -> None:
        self._accounts: dict[str, HedgeAccount] = {}

    def for_rule(self, rule_name: str, cap: HedgeCap) -> HedgeAccount:
        account = self._accounts.get(rule_name)
        if account is None:
            account = self._accounts[rule_name] = HedgeAccount(cap)
        elif account.cap != cap:
            account.reconfigure(cap)
        return account
