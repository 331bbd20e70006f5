"""What every `make bench-quality` strategy shares: the roles and the protocol."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from switchyard.learning import report
from switchyard.learning.artefact import write_artefact
from switchyard.learning.evaluate import EvalSetup, StrategyResult
from switchyard.learning.predictor_training import train_router_predictor
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


class TrainedPredictor:
    """`switchyard train router`'s artefact for one train half, fitted once for every
    row that routes with it (the fit is deterministic, so they would all fit the same)."""

    def __init__(self) -> None:
        self._train: EvalSetup | None = None
        self.artefact: Path | None = None

    def fit(self, train: EvalSetup) -> Path:
        if self._train is not train or self.artefact is None:
            directory = Path(tempfile.mkdtemp(prefix="bench-quality-predictor-"))
            trained = train_router_predictor(list(train.records), [])
            self.artefact = directory / "router.zip"
            write_artefact(self.artefact, trained.manifest, trained.arrays)
            self._train = train
        return self.artefact


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
