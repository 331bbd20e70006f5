"""The fault scenario: steady load through a two-model chain while the simulator
injects errors into one model and slows the other, then clears both.

What it shows, from the attempt trace of every call (the client keeps them all) and
the router's `breaker.transition` log events: each phase's answers by model (traffic
shifting), failed and breaker-skipped attempts, latency, and whether every call ended
in an answer or a typed error with the router's count agreeing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from bench import client
from bench.client import CallRecord
from bench.measure import RunLedger, _shares, summary_dict
from bench.plan import request_for
from bench.scenarios import Faults
from bench.stack import Stack
from bench.stats import LatencySummary, Reconciliation, count_delta
from switchyard.router.v1 import router_pb2

_OK = router_pb2.ATTEMPT_OUTCOME_OK
_SKIPPED = router_pb2.ATTEMPT_OUTCOME_SKIPPED
_TRUNCATED = router_pb2.ATTEMPT_OUTCOME_TRUNCATED


def parse_breaker_transitions(log_text: str, wall_origin: float) -> list[dict[str, Any]]:
    """`breaker.transition` events of a router's JSON log, timed from `wall_origin`
    (a Unix time)."""
    found: list[dict[str, Any]] = []
    for line in log_text.splitlines():
        if "breaker.transition" not in line:
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("event") != "breaker.transition":
            continue
        stamp = dt.datetime.fromisoformat(str(event.get("timestamp", "")).replace("Z", "+00:00"))
        found.append(
            {
                "t_s": round(stamp.timestamp() - wall_origin, 3),
                "model": event.get("model"),
                "from": event.get("old"),
                "to": event.get("new"),
            }
        )
    return found


def phase_summary(records: Sequence[CallRecord]) -> dict[str, Any]:
    """What happened to the calls sent in one phase."""
    answered = [r for r in records if r.code == "OK"]
    # Per model: requests that called it at least once (a model whose breaker is open
    # is dropped at planning and leaves no attempt), calls, failed calls, and attempts
    # the breaker refused (half-open probe budget, ramp-up after closing).
    attempts: dict[str, dict[str, int]] = {}
    for record in records:
        called: set[str] = set()
        for a in record.attempts:
            row = attempts.setdefault(
                a.model_id, {"requests_tried": 0, "calls": 0, "failed": 0, "breaker_skipped": 0}
            )
            if a.outcome == _SKIPPED:
                row["breaker_skipped"] += 1
            else:
                row["calls"] += 1
                called.add(a.model_id)
                if a.outcome not in (_OK, _TRUNCATED):
                    row["failed"] += 1
        for model in called:
            attempts[model]["requests_tried"] += 1
    errors: dict[str, int] = {}
    for r in records:
        if r.code != "OK":
            errors[r.code] = errors.get(r.code, 0) + 1
    latency = LatencySummary.of(r.latency_ms for r in answered)
    return {
        "requests": len(records),
        "answered": len(answered),
        "typed_errors": errors,
        "degraded": sum(1 for r in answered if r.degraded),
        "answered_by": _shares(r.model_id for r in answered),
        "escalation_rate": round(sum(1 for r in answered if r.escalations) / len(answered), 4)
        if answered
        else 0.0,
        "attempts": dict(sorted(attempts.items())),
        "latency_ms": summary_dict(latency),
    }


def timeline(records: Iterable[CallRecord], bucket_s: float = 1.0) -> list[dict[str, Any]]:
    """Per time bucket: requests and the share answered by each model."""
    buckets: dict[int, list[CallRecord]] = {}
    for r in records:
        buckets.setdefault(int(r.intended_s // bucket_s), []).append(r)
    rows = []
    for index in sorted(buckets):
        group = buckets[index]
        answered = [r for r in group if r.code == "OK"]
        rows.append(
            {
                "t_s": round(index * bucket_s, 3),
                "requests": len(group),
                "errors": len(group) - len(answered),
                "answered_by": _shares(r.model_id for r in answered),
                "p99_ms": round(LatencySummary.of(r.latency_ms for r in answered).p99_ms, 2),
            }
        )
    return rows


async def run_faults(stack: Stack, scenario: Faults, client_processes: int) -> dict[str, Any]:
    request = request_for(scenario).SerializeToString()
    router_log = stack.suite.services["router"].log_path
    log_offset = router_log.stat().st_size
    fault_on = scenario.baseline_s
    fault_off = scenario.baseline_s + scenario.faulted_s
    duration = fault_off + scenario.recovery_s
    marks: dict[str, float] = {}

    async def inject(start_at: float) -> None:
        marks["wall_origin"] = time.time() - (time.monotonic() - start_at)
        await asyncio.sleep(max(0.0, start_at + fault_on - time.monotonic()))
        for model, faults in scenario.faults.items():
            await stack.set_faults(model, faults)
        marks["faults_on_s"] = time.monotonic() - start_at
        await asyncio.sleep(max(0.0, start_at + fault_off - time.monotonic()))
        for model in scenario.faults:
            await stack.clear_faults(model)
        marks["faults_off_s"] = time.monotonic() - start_at

    ledger = RunLedger()
    before = await stack.router_counts()
    try:
        run = await client.fixed_rate(
            stack.router_address,
            request,
            rate=scenario.rate,
            duration_s=duration,
            processes=client_processes,
            keep_attempts=True,
            on_start=inject,
        )
    finally:
        for model in scenario.faults:
            await stack.clear_faults(model)
    codes = count_delta(before, await stack.router_counts())
    ledger.add(
        "faults",
        Reconciliation(
            sent=len(run.records),
            client_completed=len(run.records),
            codes=codes,
            client_codes=run.codes,
            source="router metrics",
        ),
    )
    with router_log.open("rb") as log:
        log.seek(log_offset)
        log_text = log.read().decode(errors="replace")
    transitions = parse_breaker_transitions(log_text, marks.get("wall_origin", time.time()))
    phases = {
        "baseline": [r for r in run.records if r.intended_s < fault_on],
        "faulted": [r for r in run.records if fault_on <= r.intended_s < fault_off],
        "recovery": [r for r in run.records if r.intended_s >= fault_off],
    }
    return {
        "rate_rps": scenario.rate,
        "faults": {m: dict(f) for m, f in scenario.faults.items()},
        "phases_s": {"faults_on": fault_on, "faults_off": fault_off, "end": duration},
        "injected_at_s": round(marks.get("faults_on_s", -1.0), 3),
        "cleared_at_s": round(marks.get("faults_off_s", -1.0), 3),
        "phases": {name: phase_summary(records) for name, records in phases.items()},
        "breaker_transitions": transitions,
        "breaker_opened": sorted({t["model"] for t in transitions if t["to"] == "open"}),
        "timeline": timeline(run.records),
        "counts": ledger.as_dict(),
    }
