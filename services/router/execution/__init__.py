"""Execution: run a plan's chain with the rule's strategy until an answer is accepted,
and always end.

- `attempt.py`: the one attempt step every strategy is built from (admission, budget
  reservation, provider call with the deadline-cut timeout, recording, settlement,
  verification; `judging.py` asks the verifier); `stage.py`: a stage's attempts and
  retries; `run.py` and `records.py`: the request's state and the values produced.
- strategies: `cascade.py` (single and cascade), `parallel.py`, `vote.py`
  (`ballots.py` counts), `hedge.py` (`hedge_cap.py` accounts); `members.py` runs
  members at once and cancels the rest.
- `degrade.py`: a held answer, a review ticket, the static answer or a typed error.
- `budget.py`: the hook a shared budget (a tenant ledger) plugs into.
"""

from services.router.execution.budget import UNLIMITED, AttemptBudget, Reservation
from services.router.execution.executor import RouteExecutor
from services.router.execution.judging import MIN_ATTEMPT_S
from services.router.execution.records import (
    PANICS,
    Answer,
    AttemptOutcome,
    AttemptRecord,
    PanicRoutes,
    RouteResult,
    StopReason,
    Verdict,
    attach_attempts,
    attempts_of,
)
from services.router.execution.run import BREAKER_REFUSED

__all__ = [
    "BREAKER_REFUSED",
    "MIN_ATTEMPT_S",
    "PANICS",
    "UNLIMITED",
    "Answer",
    "AttemptBudget",
    "AttemptOutcome",
    "AttemptRecord",
    "PanicRoutes",
    "Reservation",
    "RouteExecutor",
    "RouteResult",
    "StopReason",
    "Verdict",
    "attach_attempts",
    "attempts_of",
]
