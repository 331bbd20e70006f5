"""Turning a selector's chosen chain into plan candidates: the chain first, renumbered
as stages 0..n-1, then the eligible models it passed over, then the filtered ones."""

from __future__ import annotations

from collections.abc import Sequence

from services.router.plan import Candidate, DropReason


def arrange(
    chain: Sequence[Candidate],
    passed_over: Sequence[tuple[Candidate, str]],
    filtered: Sequence[Candidate],
) -> tuple[Candidate, ...]:
    out = [_at(c, i) for i, c in enumerate(chain)]
    for c, reason in passed_over:
        out.append(
            c.evolve(stage_index=len(out), kept=False, reason=reason, drop=DropReason.NOT_CHOSEN)
        )
    out.extend(_at(c, len(out) + i) for i, c in enumerate(filtered))
    return tuple(out)


def _at(c: Candidate, stage_index: int) -> Candidate:
    # Candidates are immutable: one already at its place is shared, not copied.
    return c if c.stage_index == stage_index else c.evolve(stage_index=stage_index)
