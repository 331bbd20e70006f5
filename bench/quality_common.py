"""What every `make bench-quality` strategy shares: the roles and the protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from switchyard.learning import report
from switchyard.learning.evaluate import EvalSetup, StrategyResult
from switchyard.learning.sweep import parse_sweep


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


NEEDS_PAIR = "a weak/strong row: needs exactly two models with a quality gap"


def needs_texts_and_pair(held: EvalSetup, roles: Roles | None) -> str | None:
    if roles is None:
        return NEEDS_PAIR
    if not report.has_answer_texts(held):
        return "the data has no answer texts to verify"
    return None


def quantiles(values: Sequence[float], count: int) -> list[float]:
    """`count` evenly spaced order statistics of `values` (a sweep's grid from train)."""
    ordered = sorted(values)
    count = max(2, count)
    return [ordered[min(len(ordered) - 1, i * len(ordered) // count)] for i in range(count)]


async def sweep_row(
    name: str, held: EvalSetup, source: str, spec: str, *, label: str, strong: str, points: int
) -> StrategyResult:
    """A policy's curve over the sweep `spec` (`switchyard eval --sweep`'s syntax) on the
    held-out half, as a row named `name`."""
    row = await report.sweep_result(
        held, source, parse_sweep(spec), name=label, strong=strong, points=points
    )
    return StrategyResult(
        name=name, kind=row.kind, point=None, curve=row.curve, requests=row.requests
    )
