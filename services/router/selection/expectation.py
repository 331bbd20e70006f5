"""Expected figures of a chain: each later stage runs only when every earlier one
failed or was rejected, so stage i is reached with P = Π_{j<i} (1 − a_j), where a_j is
P(stage j ends accepted) — the measured acceptance, or q_j before any outcome.

expected_cost = Σ P(reach i)·c_i and expected_latency = Σ P(reach i)·l_i. An answer
accepted at stage i is good with P = min(1, q_i / a_i) (a verifier that passes every
good answer), so expected_quality = Σ P(reach i)·min(q_i, a_i): with a_i = q_i that is
1 − Π (1 − q_i); a lenient verifier (a_i > q_i) lowers it, as it should.
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
    costs: Sequence[float],
    latencies: Sequence[float],
    qualities: Sequence[float],
    acceptances: Sequence[float] | None = None,
) -> ChainFigures:
    accept = qualities if acceptances is None else acceptances
    cost = latency = quality = 0.0
    reach = 1.0
    for c, lat, q, a in zip(costs, latencies, qualities, accept, strict=True):
        cost += reach * c
        latency += reach * lat
        quality += reach * min(q, a)
        reach *= 1.0 - a
    return ChainFigures(cost, latency, quality)


def fan_out_figures(
    costs: Sequence[float], latencies: Sequence[float], qualities: Sequence[float]
) -> ChainFigures:
    """parallel and vote call every member at once: the cost is every member's, the
    latency the slowest one's (an early stop can only shorten both), and the answer is
    good when any member's is (the ranking or the vote picks a good one)."""
    miss = 1.0
    for q in qualities:
        miss *= 1.0 - q
    return ChainFigures(float(sum(costs)), float(max(latencies, default=0.0)), 1.0 - miss)
