"""`auto`: the cheapest cascade that meets the SLO, the budget and the quality floor.

Cascades are ordered subsets of the eligible models, cheapest stage first, up to
`max_depth` stages. Each gets expected cost, latency and quality (see `expectation`);
the cheapest whose expected latency ≤ SLO, expected cost ≤ budget and expected quality
≥ `min_quality` wins. If none does, the highest expected quality within the budget is
taken and the plan is flagged.

The search is depth-first with two prunings that cannot lose the answer: a cascade
that already qualifies is not extended (a longer one costs more), and a prefix dearer
than the best qualifying cascade is not extended (cost only grows with stages).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.router.plan import Candidate, CascadeOption
from services.router.selection.expectation import ChainFigures
from services.router.selection.filters import latency_ms
from switchyard.policy import Selector


# Slotted, not frozen: a plan makes one per cascade it weighs, and a frozen dataclass's
# __init__ sets each field through object.__setattr__.
@dataclass(slots=True)
class _Option:
    chain: tuple[Candidate, ...]
    figures: ChainFigures
    within_budget: bool
    meets_slo: bool
    meets_floor: bool
    # P(a stage after this chain would be reached): what extending it multiplies by.
    reach: float = 1.0

    @property
    def qualifies(self) -> bool:
        return self.within_budget and self.meets_slo and self.meets_floor


def enumerate_cascades(
    eligible: Sequence[Candidate], selector: Selector, budget: int, slo_ms: int
) -> list[_Option]:
    ordered = sorted(eligible, key=lambda c: (c.max_cost_micros, c.model_id))
    # Each stage's (cost, latency, quality, acceptance), read once per plan, not once per
    # cascade holding it.
    stages = [
        (
            c.max_cost_micros,
            latency_ms(c.profile, selector.latency_percentile) if c.profile is not None else 0,
            c.accept_probability,
            c.stage_acceptance,
        )
        for c in ordered
    ]
    floor = selector.min_quality or 0.0
    options: list[_Option] = []
    best_cost = float("inf")
    empty = _Option((), ChainFigures(0.0, 0.0, 0.0), True, True, True)

    def extend(prefix: _Option, start: int) -> None:
        nonlocal best_cost
        base, reach = prefix.figures, prefix.reach
        for i in range(start, len(ordered)):
            # chain_figures, one stage on from the prefix's sums: the same operations in
            # the same order, so the same floats as computing the chain whole.
            cost, lat, q, a = stages[i]
            figures = ChainFigures(
                base.cost_micros + reach * cost,
                base.latency_ms + reach * lat,
                base.quality + reach * min(q, a),
            )
            option = _Option(
                (*prefix.chain, ordered[i]),
                figures,
                figures.cost_micros <= budget,
                figures.latency_ms <= slo_ms,
                figures.quality >= floor,
                reach * (1.0 - a),
            )
            options.append(option)
            if option.qualifies:
                best_cost = min(best_cost, figures.cost_micros)
                continue
            # <=: a longer chain at the same cost (free models) may still win the tie.
            if len(option.chain) < selector.max_depth and figures.cost_micros <= best_cost:
                extend(option, i + 1)

    extend(empty, 0)
    return options


def choose(options: Sequence[_Option]) -> tuple[_Option | None, bool]:
    """The chosen cascade and whether it met every target."""
    qualifying = [o for o in options if o.qualifies]
    if qualifying:
        return min(qualifying, key=_cheapest), True
    affordable = [o for o in options if o.within_budget]
    if not affordable:
        return None, False
    return max(affordable, key=lambda o: (o.figures.quality, -o.figures.cost_micros)), False


def _cheapest(o: _Option) -> tuple[float, float, float, tuple[str, ...]]:
    f = o.figures
    return (f.cost_micros, -f.quality, f.latency_ms, tuple(c.model_id for c in o.chain))


def describe(options: Sequence[_Option], chosen: _Option | None) -> tuple[CascadeOption, ...]:
    out = []
    for o in options:
        misses = [
            label
            for ok, label in (
                (o.within_budget, "over budget"),
                (o.meets_slo, "misses the SLO"),
                (o.meets_floor, "below the quality floor"),
            )
            if not ok
        ]
        if o is chosen:
            reason = (
                "chosen" if not misses else "chosen (best available: " + ", ".join(misses) + ")"
            )
        else:
            reason = ", ".join(misses) or "dearer than the chosen cascade"
        out.append(
            CascadeOption(
                model_ids=tuple(c.model_id for c in o.chain),
                expected_cost_micros=round(o.figures.cost_micros),
                expected_latency_ms=round(o.figures.latency_ms),
                expected_quality=o.figures.quality,
                chosen=o is chosen,
                reason=reason,
            )
        )
    return tuple(out)
