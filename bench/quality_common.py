"""What every `make bench-quality` strategy shares: the roles and the protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from switchyard.learning import report
from switchyard.learning.evaluate import EvalSetup, StrategyResult


@dataclass(frozen=True)
class Roles:
    """The two-model roles on the held-out half (RouteLLM: weak = the worse model)."""

    weak: str
    strong: str


class Strategy(Protocol):
    name: str

    def skip_reason(self, held: EvalSetup, roles: Roles | None) -> str | None: ...

    def fit(self, train: EvalSetup) -> None: ...

    async def evaluate(self, held: EvalSetup, roles: Roles | None) -> StrategyResult: ...


def needs_texts_and_pair(held: EvalSetup, roles: Roles | None) -> str | None:
    if roles is None:
        return "needs two models with a quality gap"
    if not report.has_answer_texts(held):
        return "the data has no answer texts to verify"
    return None
