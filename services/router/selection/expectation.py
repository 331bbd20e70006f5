"""Expected figures of a chain: each later stage runs only when every earlier one
failed or was rejected, so stage i is reached with P = Π_{j<i} (1 − q_j).

expected_cost = Σ P(reach i)·c_i, expected_latency = Σ P(reach i)·l_i, and the chance
of an acceptable answer is 1 − Π (1 − q_i) when the verifier accepts exactly the
acceptable answers (an optimistic bound with a lenient verifier).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ChainFigures:
    cost_micros: float
    latency_ms: float
    quality: float


def chain_figures(
    costs: Sequence[float], latencies: Sequence[float], qualities: Sequence[float]
) -> ChainFigures:
    cost = latency = 0.0
    reach = 1.0
    for c, lat, q in zip(costs, latencies, qualities, strict=True):
        cost += reach * c
        latency += reach * lat
        reach *= 1.0 - q
    return ChainFigures(cost, latency, 1.0 - reach if costs else 0.0)
