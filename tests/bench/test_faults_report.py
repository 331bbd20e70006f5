"""The fault scenario's log reading and phase arithmetic, and the report's verdicts."""

from __future__ import annotations

import datetime as dt
import json

from bench.client import AttemptTrace, CallRecord
from bench.cpu import CpuUsage
from bench.faults import parse_breaker_transitions, phase_summary, timeline
from bench.report import render
from bench.verdicts import check_targets, disturbed_runs, reconciled
from switchyard.router.v1 import router_pb2

OK = router_pb2.ATTEMPT_OUTCOME_OK
ERR = router_pb2.ATTEMPT_OUTCOME_SERVER_ERROR
SKIP = router_pb2.ATTEMPT_OUTCOME_SKIPPED


def _line(event: str, t: float, **fields: str) -> str:
    stamp = dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({**fields, "event": event, "timestamp": stamp})


def test_breaker_transitions_from_the_router_log() -> None:
    """Only breaker.transition events, timed from the run's start; other lines ignored."""
    origin = 1_800_000_000.0
    log = "\n".join(
        [
            _line("route.decided", origin + 1, model="flaky"),
            _line("breaker.transition", origin + 3.25, model="flaky", old="closed", new="open"),
            "not json at all",
            _line("breaker.transition", origin + 8.5, model="flaky", old="open", new="half_open"),
        ]
    )
    found = parse_breaker_transitions(log, origin)
    assert found == [
        {"t_s": 3.25, "model": "flaky", "from": "closed", "to": "open"},
        {"t_s": 8.5, "model": "flaky", "from": "open", "to": "half_open"},
    ]


def _call(t: float, code: str, model: str, *attempts: tuple[str, int]) -> CallRecord:
    traces = tuple(AttemptTrace(m, outcome, 0, 0, 1, "") for m, outcome in attempts)
    return CallRecord(t, 5.0, 0.0, code, model, 1.0, 10, int(len(attempts) > 1), False, traces)


def test_phase_summary_counts_shift_failures_and_skips() -> None:
    """Answers by model, failed and breaker-skipped attempts, typed errors."""
    records = [
        _call(0.1, "OK", "flaky", ("flaky", OK)),
        _call(0.2, "OK", "sluggish", ("flaky", ERR), ("flaky", ERR), ("sluggish", OK)),
        _call(0.3, "OK", "sluggish", ("flaky", SKIP), ("sluggish", OK)),
        _call(1.4, "UNAVAILABLE", ""),
    ]
    summary = phase_summary(records)
    assert summary["requests"] == 4 and summary["answered"] == 3
    assert summary["typed_errors"] == {"UNAVAILABLE": 1}
    assert summary["answered_by"] == {"flaky": 0.3333, "sluggish": 0.6667}
    assert summary["attempts"]["flaky"] == {
        "requests_tried": 2,
        "calls": 3,
        "failed": 2,
        "breaker_skipped": 1,
    }
    assert summary["attempts"]["sluggish"] == {
        "requests_tried": 2,
        "calls": 2,
        "failed": 0,
        "breaker_skipped": 0,
    }
    rows = timeline(records, bucket_s=1.0)
    assert [(r["t_s"], r["requests"], r["errors"]) for r in rows] == [(0.0, 3, 0), (1.0, 1, 1)]


def _counts(ok: bool) -> dict:
    problem = [] if ok else ["sent 10 but router metrics account for 9"]
    return {"reconciled": ok, "runs": {"saturating": {"problems": problem}}}


def _result(single_rps: float, *, counts_ok: bool = True) -> dict:
    latency = {"p50": 1.0, "p95": 2.0, "p99": 3.0, "mean": 1.0, "max": 4.0, "count": 10}
    scenario = {
        "kind": "throughput",
        "about": "x",
        "throughput_rps": single_rps,
        "latency_ms": latency,
        "unloaded_latency_ms": latency,
        "counts": _counts(counts_ok),
    }
    return {
        "run_id": "test",
        "duration_s": 1.0,
        "machine": {"nproc": 2, "cpu_model": "cpu", "memory_gib": 1, "os": "os", "python": "3"},
        "settings": {
            "window_s": 1,
            "warmup_s": 1,
            "connections": 1,
            "streams": 1,
            "verifier_mode": "remote",
        },
        "scenarios": {"floor": {**scenario, "throughput_rps": 4000.0}, "single": scenario},
        "peers": {"status": "skipped"},
    }


def test_targets_are_met_missed_or_not_measured() -> None:
    """Each target is judged from the run's own figures, or says it was not measured."""
    result = _result(2100.0)
    verdicts = {t["target"]: t["met"] for t in check_targets(result)}
    assert verdicts["single route with verifier, Route()/s on one router"] is True
    assert verdicts["single route with verifier vs bare echo throughput"] is True
    assert verdicts["throughput vs Portkey gateway"] is None
    result = _result(900.0)
    verdicts = {t["target"]: t["met"] for t in check_targets(result)}
    assert verdicts["single route with verifier, Route()/s on one router"] is False


def test_counts_that_do_not_reconcile_are_shouted() -> None:
    """A run whose counts do not add up makes the report say so loudly."""
    result = _result(1000.0, counts_ok=False)
    assert not reconciled(result["scenarios"]["single"])
    result.update(
        targets=check_targets(result),
        reconciled=False,
        not_reconciled=["single"],
        count_problems=["saturating: sent 10 but router metrics account for 9"],
    )
    text = render(result)
    assert "COUNTS DO NOT RECONCILE in: single" in text
    assert "account for 9" in text
    result.update(reconciled=True, not_reconciled=[], count_problems=[])
    assert "every run reconciled" in render(result)


def test_other_work_on_the_machine_is_flagged() -> None:
    """Machine busy % beyond the measured processes is other work; runs where it took
    10 % or more of the machine are listed."""
    usage = CpuUsage({"router": 90.0, "h2load": 10.0}, machine_percent=80.0, cores=2)
    assert usage.other_percent == 30.0
    assert usage.as_dict()["other_work_percent_of_machine"] == 30.0
    result = _result(1000.0)
    result["scenarios"]["single"]["cpu"] = usage.as_dict()
    result["scenarios"]["floor"]["cpu"] = {"other_work_percent_of_machine": 2.0}
    assert disturbed_runs(result) == ["single (30 %)"]
