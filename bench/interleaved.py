"""Interleaved measurement of a paired set (bench/paired.py): the figures its targets use.

A paired set's rounds are whole scenario runs (probe, warm-up, a 6 s window, a traced
sample) about 15 s apart, and on a shared 2-core host the CPU itself runs up to twice
as slow from one minute to the next (the router's CPU per request moved from 760 to
1,370 µs between rounds of one run), so a round's ratio moves by ±15 %. Here the
members take turns in short slices instead:

- **throughput**: `blocks` blocks of one saturating h2load slice of `slice_s` per
  member, the order reversed every block (A B, B A, A B, ...: a drift within a block
  weighs on both members alike); a variant's drop is taken within each block and the
  median over blocks reported;
- **router-added latency**: one Python client at concurrency 1 alternates single calls
  between the members (A B B A ...) for `sample_requests` calls each, so each member's
  p99 is over calls made in the same moments as the others'.

Every slice and call is reconciled against the routers' own counts like any run.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import client
from bench.cpu import us_per_request
from bench.measure import BenchSettings, GrpcTarget, RunLedger, h2load_run, summary_dict
from bench.paired import round_order
from bench.stats import LatencySummary, Reconciliation, count_delta, p99_excess_interval_us


@dataclass(frozen=True)
class Member:
    """One scenario of the set, on its own running suite."""

    name: str
    target: GrpcTarget
    request: bytes
    body: Path
    # Its measured maximum from the rounds: the first slice's size.
    rps: float


async def interleaved(
    members: Sequence[Member], settings: BenchSettings, *, blocks: int
) -> dict[str, dict[str, Any]]:
    """Per member: the throughput of each slice, its router-added latency from the
    alternating sample, and the ledger of both."""
    ledgers = {m.name: RunLedger() for m in members}
    rps: dict[str, list[float]] = {m.name: [] for m in members}
    # The router process's CPU per request in each slice: where a drop comes from.
    router_cpu: dict[str, list[float | None]] = {m.name: [] for m in members}
    for block in range(blocks):
        for member in round_order(members, block):
            last = rps[member.name][-1] if rps[member.name] else member.rps
            result, cpu = await h2load_run(
                member.target.load(member.body),
                ledgers[member.name],
                f"interleaved slice {block + 1}",
                requests=max(200, int(last * settings.slice_s)),
                connections=settings.connections,
                streams=settings.streams,
                log_file=None,
            )
            rps[member.name].append(round(result.rps, 1))
            router_cpu[member.name].append(us_per_request(cpu.processes.get("router"), result.rps))
    # Members may share a router (single, score and auto do): its counts cover all of
    # theirs, so each router's sample is reconciled once, in its first member's ledger.
    by_router: dict[str, list[int]] = {}
    for index, member in enumerate(members):
        by_router.setdefault(member.target.address, []).append(index)
    before = {address: await members[i[0]].target.counts() for address, i in by_router.items()}
    samples = await client.alternating_sample(
        [(m.target.address, m.request) for m in members], count=settings.sample_requests
    )
    for address, indices in by_router.items():
        first = members[indices[0]]
        records = [r for i in indices for r in samples[i]]
        ledgers[first.name].add(
            "interleaved sample"
            + (f" (with {', '.join(members[i].name for i in indices[1:])})" if indices[1:] else ""),
            Reconciliation(
                sent=len(records),
                client_completed=len(records),
                codes=count_delta(before[address], await first.target.counts()),
                client_codes=client.codes_of(records),
                source=f"{first.target.label} metrics",
            ),
        )
    out: dict[str, dict[str, Any]] = {}
    base_answered = [r.added_ms for r in samples[0] if r.code == "OK"]
    for index, (member, records) in enumerate(zip(members, samples, strict=True)):
        answered = [r.added_ms for r in records if r.code == "OK"]
        out[member.name] = {
            "slice_s": settings.slice_s,
            "throughput_rps": rps[member.name],
            "router_cpu_us_per_request": router_cpu[member.name],
            "sampled": len(records),
            "router_added_ms": summary_dict(LatencySummary.of(answered)) if answered else None,
            "counts": ledgers[member.name].as_dict(),
        }
        if index and answered and base_answered:
            # How far the p99 excess could move by sampling alone (the first member is
            # the base): a verdict within it is the machine's, not the code's.
            out[member.name]["router_added_p99_excess_interval_us"] = list(
                p99_excess_interval_us(base_answered, answered)
            )
    return out


def interleaved_figures(base: Mapping[str, Any], variant: Mapping[str, Any]) -> dict[str, Any]:
    """A variant against the base: its drop in each block and their median, and the
    router-added p99 excess over the alternating sample."""
    drops = [
        round((1 - v / b) * 100, 2)
        for b, v in zip(base["throughput_rps"], variant["throughput_rps"], strict=True)
        if b and v
    ]
    base_added, added = base.get("router_added_ms"), variant.get("router_added_ms")
    excess = None
    if base_added and added:
        excess = round((added["p99"] - base_added["p99"]) * 1000, 1)
    cpu_excess = [
        round((v / b - 1) * 100, 2)
        for b, v in zip(
            base.get("router_cpu_us_per_request", []),
            variant.get("router_cpu_us_per_request", []),
            strict=False,
        )
        if b and v
    ]
    return {
        "blocks": len(drops),
        # The variant's router CPU per request above the base's, per block (%).
        "router_cpu_excess_pct": cpu_excess,
        "median_router_cpu_excess_pct": (
            round(statistics.median(cpu_excess), 2) if cpu_excess else None
        ),
        "throughput_drop_pct": drops,
        "median_throughput_drop_pct": round(statistics.median(drops), 2) if drops else None,
        "router_added_p99_ms": {
            "base": base_added["p99"] if base_added else None,
            "variant": added["p99"] if added else None,
        },
        "router_added_p99_excess_us": excess,
        # 95 % bootstrap interval of that excess (None before it was recorded).
        "router_added_p99_excess_interval_us": variant.get("router_added_p99_excess_interval_us"),
    }
