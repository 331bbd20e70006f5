"""Paired scenarios (scenarios.PAIRED): a base and its variants measured round-robin.

Each round runs the base and every variant back to back (the order reversed every other
round); a variant's figures against the base are taken within each round and the
median over rounds is reported. Ratios of runs made seconds apart see the same load on
a shared machine, where single windows minutes apart differ by 10-20 %.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bench.scenarios import PAIRED, Scenario, Throughput


@dataclass(frozen=True)
class PairedSet:
    base: Throughput
    variants: tuple[Throughput, ...]

    @property
    def members(self) -> tuple[Throughput, ...]:
        return (self.base, *self.variants)


def paired_sets(
    chosen: Sequence[Scenario],
    refused: Collection[str],
    pairs: Sequence[tuple[str, tuple[str, ...]]] = PAIRED,
) -> list[PairedSet]:
    """The pairs whose base and at least one variant are chosen and runnable."""
    by_name = {s.name: s for s in chosen if isinstance(s, Throughput) and s.name not in refused}
    sets = []
    for base, variants in pairs:
        present = tuple(by_name[v] for v in variants if v in by_name)
        if base in by_name and present:
            sets.append(PairedSet(by_name[base], present))
    return sets


T = TypeVar("T")


def round_order(members: Sequence[T], round_index: int) -> list[T]:
    return list(members) if round_index % 2 == 0 else list(reversed(members))


def _p99_ms(run: Mapping[str, Any]) -> float | None:
    value = run.get("sample", {}).get("router_added_ms", {}).get("p99")
    return float(value) if value is not None else None


def paired_figures(
    base_runs: Sequence[Mapping[str, Any]], variant_runs: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Per-round throughput drop (%) and router-added p99 excess (µs) of a variant
    against the base of the same round, and their medians (rounds where either run
    failed are left out)."""
    drops: list[float] = []
    excess: list[float] = []
    for base, variant in zip(base_runs, variant_runs, strict=True):
        base_rps, variant_rps = base.get("throughput_rps"), variant.get("throughput_rps")
        if not base_rps or not variant_rps:
            continue
        drops.append(round((1 - variant_rps / base_rps) * 100, 2))
        base_p99, variant_p99 = _p99_ms(base), _p99_ms(variant)
        if base_p99 is not None and variant_p99 is not None:
            excess.append(round((variant_p99 - base_p99) * 1000, 1))
    return {
        "rounds": len(drops),
        "throughput_drop_pct": drops,
        "median_throughput_drop_pct": round(statistics.median(drops), 2) if drops else None,
        "router_added_p99_excess_us": excess,
        "median_router_added_p99_excess_us": (
            round(statistics.median(excess), 1) if excess else None
        ),
    }
