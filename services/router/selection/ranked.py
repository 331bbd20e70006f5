"""Turning a selector's chosen chain into plan candidates: the chain first, renumbered
as stages 0..n-1, then the eligible models it passed over, then the filtered ones."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from services.router.plan import Candidate, DropReason


def arrange(
    chain: Sequence[Candidate],
    passed_over: Sequence[tuple[Candidate, str]],
    filtered: Sequence[Candidate],
) -> tuple[Candidate, ...]:
    out = [dataclasses.replace(c, stage_index=i) for i, c in enumerate(chain)]
    for c, reason in passed_over:
        out.append(
            dataclasses.replace(
                c, stage_index=len(out), kept=False, reason=reason, drop=DropReason.NOT_CHOSEN
            )
        )
    out.extend(dataclasses.replace(c, stage_index=len(out) + i) for i, c in enumerate(filtered))
    return tuple(out)
