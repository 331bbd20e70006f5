"""One (model, task type)'s online figures as they cross the config stream: what a
router reports of its own estimates, and what the control plane merges and pushes back
(docs/controlplane.md, "Shared estimates").

Both sides hold the same raw figures; this is their one definition and their one
conversion to and from `OutcomeEstimate` messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from switchyard.controlplane.v1 import controlplane_pb2 as pb

Key = tuple[str, str]  # (model id, task type)


@dataclass(frozen=True)
class EstimateFigure:
    accepted_weight: float
    total_weight: float
    outcomes: int
    latency_p50_ms: float
    latency_p95_ms: float
    latency_samples: int

    def usable(self) -> bool:
        """Figures a router could have measured: no negative count, no acceptance
        above the total."""
        return (
            self.total_weight >= 0
            and 0 <= self.accepted_weight <= self.total_weight + 1e-9
            and self.outcomes >= 0
            and self.latency_samples >= 0
            and self.latency_p50_ms >= 0
            and self.latency_p95_ms >= 0
        )

    def latency_at(self, p: float) -> float:
        """p50 and p95 are all the fleet sends: interpolated between, clamped outside."""
        share = min(max((p - 0.5) / 0.45, 0.0), 1.0)
        return self.latency_p50_ms + share * (self.latency_p95_ms - self.latency_p50_ms)


def figure_protos(figures: Mapping[Key, EstimateFigure]) -> list[pb.OutcomeEstimate]:
    """The messages for `figures`, in key order (equal figures give equal bytes)."""
    return [
        pb.OutcomeEstimate(
            model_id=model,
            task_type=task,
            accepted_weight=f.accepted_weight,
            total_weight=f.total_weight,
            outcomes=f.outcomes,
            latency_p50_ms=f.latency_p50_ms,
            latency_p95_ms=f.latency_p95_ms,
            latency_samples=f.latency_samples,
        )
        for (model, task), f in sorted(figures.items())
    ]


def proto_figures(estimates: Iterable[pb.OutcomeEstimate]) -> dict[Key, EstimateFigure]:
    """The figures of `estimates`; entries without a model id are dropped."""
    return {
        (e.model_id, e.task_type): EstimateFigure(
            accepted_weight=e.accepted_weight,
            total_weight=e.total_weight,
            outcomes=e.outcomes,
            latency_p50_ms=e.latency_p50_ms,
            latency_p95_ms=e.latency_p95_ms,
            latency_samples=e.latency_samples,
        )
        for e in estimates
        if e.model_id
    }
