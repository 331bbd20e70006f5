"""`score`: rank the allowed models by w_q·q − w_c·c̃ − w_l·l̃ and run the best, with
the next `max_fallbacks` behind it.

q is P(acceptable) from the predictor (else registry quality); c̃ is the worst-case
cost over the dearest eligible candidate's, so 0..1 whatever the prices; l̃ is the
latency at the selector's percentile over the SLO. With `min_quality`, the cheapest
model whose q reaches it goes first instead (RouteLLM's threshold routing), then the
rest by q.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.router.plan import Candidate
from services.router.selection.filters import latency_ms
from switchyard.policy import Selector


def score_of(c: Candidate, selector: Selector, dearest_micros: int, slo_ms: int) -> float:
    assert c.profile is not None
    w = selector.weights
    cost = c.max_cost_micros / dearest_micros if dearest_micros else 0.0
    latency = latency_ms(c.profile, selector.latency_percentile) / slo_ms if slo_ms else 0.0
    return w.quality * c.accept_probability - w.cost * cost - w.latency * latency


def rank(
    eligible: Sequence[Candidate], selector: Selector, slo_ms: int
) -> tuple[list[Candidate], bool]:
    """Eligible candidates best first (ties: cheaper, then by id), each with its score;
    and whether one reached `min_quality` (always True without a floor)."""
    dearest = max((c.max_cost_micros for c in eligible), default=0)
    scored = [c.evolve(score=score_of(c, selector, dearest, slo_ms)) for c in eligible]
    floor = selector.min_quality
    if floor is None:
        scored.sort(key=lambda c: (-(c.score or 0.0), c.max_cost_micros, c.model_id))
        return scored, True
    passing = [c for c in scored if c.accept_probability >= floor]
    rest = [c for c in scored if c.accept_probability < floor]
    passing.sort(key=lambda c: (c.max_cost_micros, -c.accept_probability, c.model_id))
    rest.sort(key=lambda c: (-c.accept_probability, c.max_cost_micros, c.model_id))
    return passing + rest, bool(passing) or not scored
