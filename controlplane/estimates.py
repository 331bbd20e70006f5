"""Shared estimates: every router's online figures per (model, task type), merged.

Each router reports its whole current figures (not deltas), so a report replaces that
router's previous one and a repeated report changes nothing. The merge for a router is
over the *other* routers (it blends its own figures itself, so they must not count
twice): decayed accepted and total counts add up, outcome and latency-sample counts add
up, and p50/p95 are averaged weighted by sample counts (an approximation: percentiles do
not add, but routers behind one load balancer see alike traffic). A router's figures
are dropped `ttl_s` after its last report, so routers that are gone stop counting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from switchyard.estimate_figures import EstimateFigure, Key

DEFAULT_TTL_S = 600.0


def merge(figures: list[EstimateFigure]) -> EstimateFigure:
    samples = sum(f.latency_samples for f in figures)

    def weighted(value: Callable[[EstimateFigure], float]) -> float:
        return sum(value(f) * f.latency_samples for f in figures) / samples if samples else 0.0

    return EstimateFigure(
        accepted_weight=sum(f.accepted_weight for f in figures),
        total_weight=sum(f.total_weight for f in figures),
        outcomes=sum(f.outcomes for f in figures),
        latency_p50_ms=weighted(lambda f: f.latency_p50_ms),
        latency_p95_ms=weighted(lambda f: f.latency_p95_ms),
        latency_samples=samples,
    )


class FleetEstimates:
    def __init__(
        self,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._on_change = on_change
        self._by_router: dict[str, tuple[float, dict[Key, EstimateFigure]]] = {}
        self.revision = 0

    def report(self, router_id: str, figures: Mapping[Key, EstimateFigure]) -> int:
        """Replace the router's figures; returns how many were refused as nonsense."""
        kept = {key: f for key, f in figures.items() if f.usable()}
        previous = self._by_router.get(router_id)
        self._by_router[router_id] = (self._clock(), kept)
        if previous is None or previous[1] != kept:
            self.revision += 1
            self._on_change()
        return len(figures) - len(kept)

    def _expire(self) -> None:
        cutoff = self._clock() - self._ttl_s
        for router_id in [r for r, (at, _) in self._by_router.items() if at < cutoff]:
            del self._by_router[router_id]
            self.revision += 1

    def merged(self, *, excluding: str = "") -> tuple[dict[Key, EstimateFigure], int]:
        """The other routers' figures merged per key, and how many routers contributed."""
        self._expire()
        grouped: dict[Key, list[EstimateFigure]] = {}
        routers = 0
        for router_id, (_, figures) in self._by_router.items():
            if router_id == excluding or not figures:
                continue
            routers += 1
            for key, figure in figures.items():
                grouped.setdefault(key, []).append(figure)
        return {key: merge(group) for key, group in grouped.items()}, routers
