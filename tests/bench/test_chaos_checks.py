"""The chaos run's arithmetic (bench/chaos/summary.py, checks.py) and report, over hand-made
outcomes: each check passes on a good phase and fails on the defect it is there for."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos import checks as chk
from bench.chaos import summary as sm
from bench.chaos.outcomes import BreakerTransition, CallOutcome, PhaseWindow
from bench.chaos.report import check_table, phase_table, render, render_file, write_json
from bench.chaos.run import FILES, policy_sources
from switchyard.policy import parse_policy
from switchyard.runtime.errors import InvalidArgument

PROBES = sm.ProbeSettings(interval_s=0.5, jitter=0.2, half_open_calls=3)


def real(t: float, *, latency_ms: float = 20, calls: int = 1, **kw: object) -> CallOutcome:
    return CallOutcome(t, t + latency_ms / 1000, latency_ms, "OK", model_calls=calls, **kw)  # type: ignore[arg-type]


def degraded(t: float, **kw: object) -> CallOutcome:
    return CallOutcome(t, t + 0.01, 10, "OK", degraded=True, **kw)  # type: ignore[arg-type]


def error(t: float, code: str, **kw: object) -> CallOutcome:
    return CallOutcome(t, t + 0.01, 10, code, **kw)  # type: ignore[arg-type]


def clean(n: int) -> list[CallOutcome]:
    """n real answers, the last one after the fault ended."""
    return [real(2.0 + i * 5.9 / n) for i in range(n - 1)] + [real(8.5)]


def window(**kw: object) -> PhaseWindow:
    base: dict[str, object] = {
        "name": "soak",
        "start_s": 0.0,
        "end_s": 10.0,
        "fault_start_s": 1.0,
        "fault_end_s": 8.0,
        "upstream_calls": 0,
    }
    base.update(kw)
    return PhaseWindow(**base)  # type: ignore[arg-type]


def t(t_s: float, model: str, new: str) -> BreakerTransition:
    return BreakerTransition(t_s, model, "", new)


def test_open_intervals_pair_openings_with_what_ended_them() -> None:
    """An OPEN stretch ends at the next transition out of OPEN; one still open at the
    end of the run ends there."""
    found = sm.open_intervals(
        [t(1, "a", "open"), t(3, "a", "half_open"), t(3.1, "a", "closed"), t(5, "b", "open")],
        run_end_s=9,
    )
    assert found == {"a": [(1, 3)], "b": [(5, 9)]}


def test_probe_floor_counts_health_probes_and_half_open_slots_in_the_window() -> None:
    """2 s OPEN at one probe per 0.4 s at most: 6 health probes; one HALF_OPEN: 3 slots.
    Outside the window, or for a model the filter leaves out, nothing."""
    transitions = [t(1, "a", "open"), t(3, "a", "half_open"), t(3.1, "a", "closed")]
    assert sm.probe_floor(transitions, 0, 10, run_end_s=10, probes=PROBES) == 6 + 3
    assert sm.probe_floor(transitions, 5, 10, run_end_s=10, probes=PROBES) == 0
    assert sm.probe_floor(transitions, 2, 10, run_end_s=10, probes=PROBES) == 3 + 3
    assert sm.probe_floor(transitions, 0, 10, run_end_s=10, probes=PROBES, models=["b"]) == 0


def test_summary_counts_what_the_fault_cost_and_leaves_client_cuts_out() -> None:
    """Success is over uncut calls in the fault window; cut calls are listed apart;
    attempts are the server's count plus refused calls; recovery is the first real
    answer after the fault ends; last_failure the last uncut failure after it."""
    outcomes = [
        real(0.5),  # before the fault: not judged
        real(2.0, calls=2, failed_calls=1),  # absorbed by a retry: a success
        degraded(3.0, model_calls=2, refused_calls=2),
        error(4.0, "CANCELLED", cut="cancel"),
        real(5.0, cut="deadline"),
        error(6.0, "UNAVAILABLE"),
        degraded(8.1),
        real(8.2, latency_ms=300),
        real(8.3),
    ]
    s = sm.summarize(window(upstream_calls=7), outcomes, probes=PROBES)
    assert (s.sent, s.answered, s.degraded, s.real) == (9, 7, 2, 5)
    assert s.errors == {"UNAVAILABLE": 1}
    assert s.cut_by_client == 2 and s.cut_codes == {"CANCELLED": 1, "OK": 1}
    assert s.success_rate == pytest.approx(1 / 3)  # 2.0 ok; 3.0 degraded; 6.0 error
    assert s.attempts == 7 + 2
    assert s.failed_attempts == 1
    assert s.recovery_s == pytest.approx(8.3 + 0.02 - 8.0)  # 8.2 ends later, at 8.5
    assert s.last_failure_s == pytest.approx(0.1)


def test_summary_without_a_real_answer_after_the_fault_has_no_recovery() -> None:
    s = sm.summarize(window(), [real(2.0), degraded(8.5), degraded(9.0)], probes=PROBES)
    assert s.recovery_s is None


def _run_checks(summaries: list[sm.PhaseSummary], **kw: object) -> list[chk.Check]:
    options: dict[str, object] = {
        "thresholds": chk.Thresholds(),
        "soak_phase": "soak",
        "recovery_phases": ["soak"],
        "reconciliation": chk.Reconciliation({"OK": 10}, {"OK": 10}, 0),
    }
    options.update(kw)
    return chk.check_run(summaries, **options)  # type: ignore[arg-type]


def _failed(checks: list[chk.Check]) -> set[str]:
    return {c.name for c in checks if not c.passed}


def test_a_clean_phase_passes_every_check() -> None:
    good = sm.summarize(window(upstream_calls=10), clean(10))
    assert _failed(_run_checks([good])) == set()


@pytest.mark.parametrize(
    ("outcomes", "upstream", "open_at_end", "failed"),
    [
        (clean(10), 13, (), {"attempts bounded"}),
        (
            [*clean(9), error(8.6, "INTERNAL")],
            10,
            (),
            {"no INTERNAL or UNKNOWN"},
        ),
        (
            [*clean(9), error(8.6, "UNKNOWN", cut="cancel")],
            10,
            (),
            {"no INTERNAL or UNKNOWN"},
        ),
        (
            [*clean(999), degraded(3.0), degraded(3.1)],
            1001,
            (),
            {"soak success"},
        ),
        ([real(2.0 + i / 10) for i in range(10)] + [degraded(8.5)], 11, (), {"recovery"}),
        (clean(10), 10, ("alpha",), {"no breaker stuck open"}),
    ],
)
def test_each_check_fails_on_its_defect(
    outcomes: list[CallOutcome], upstream: int, open_at_end: tuple[str, ...], failed: set[str]
) -> None:
    """Too many attempts, an untyped code (cut or not), soak success under 99.9 %, no
    real answer after the fault, a breaker open at the end: each fails its check only."""
    s = sm.summarize(window(upstream_calls=upstream, open_breakers_at_end=open_at_end), outcomes)
    assert _failed(_run_checks([s])) == failed


def test_the_probe_floor_raises_the_attempt_limit() -> None:
    """Health probes of an open model are allowed on top of 1.2 x requests."""
    outcomes = clean(10)
    opened = [t(2.0, "alpha", "open"), t(3.0, "alpha", "half_open")]
    s = sm.summarize(window(upstream_calls=20), outcomes, transitions=opened, probes=PROBES)
    assert s.probe_floor == 3 + 3
    assert _failed(_run_checks([s])) == {"attempts bounded"}
    s = sm.summarize(window(upstream_calls=18), outcomes, transitions=opened, probes=PROBES)
    assert _failed(_run_checks([s])) == set()


@pytest.mark.parametrize(
    ("client", "router", "cut", "ok"),
    [
        ({"OK": 10}, {"OK": 10}, 0, True),
        ({"OK": 9, "UNAVAILABLE": 1}, {"OK": 10}, 0, False),  # codes disagree
        ({"OK": 10}, {"OK": 9}, 0, False),  # the router never saw one
        ({"OK": 9, "LOST": 1}, {"OK": 9, "CANCELLED": 1}, 5, False),  # lost at the client
        ({"OK": 8, "CANCELLED": 2}, {"OK": 9, "CANCELLED": 0}, 2, True),  # cut calls
    ],
)
def test_reconciliation(client: dict[str, int], router: dict[str, int], cut: int, ok: bool) -> None:
    """Every call ends at the client, and the router's count agrees with it, exactly
    when nothing was cut, within the cut calls otherwise."""
    assert chk.reconcile(chk.Reconciliation(client, router, cut)).passed is ok


def test_untyped_codes_the_router_counted_fail_the_run() -> None:
    s = sm.summarize(window(upstream_calls=1), [real(2.0)])
    checks = _run_checks([s], reconciliation=chk.Reconciliation({"OK": 1}, {"INTERNAL": 1}, 5))
    assert "no INTERNAL or UNKNOWN (router count)" in _failed(checks)


def _policy_window(**facts: object) -> PhaseWindow:
    base: dict[str, object] = {
        "invalid_refused": "INVALID_ARGUMENT: retry.max_retries: ...",
        "nack_version": 2,
        "nack_seen_s": 0.05,
        "nack_window_s": [1.0, 3.0],
        "good_version": 1,
    }
    base.update(facts)
    return window(name="bad-policy", facts=base)


@pytest.mark.parametrize(
    ("facts", "outcomes", "failed"),
    [
        ({}, [real(1.5, policy_version=1)], set()),
        ({"invalid_refused": "stored as version 2"}, [real(1.5, policy_version=1)],
         {"invalid policy refused at publish"}),
        ({"nack_seen_s": None}, [real(1.5, policy_version=1)], {"bad policy NACKed"}),
        ({}, [real(1.5, policy_version=2)], {"kept serving the last good policy"}),
        ({}, [degraded(1.5, policy_version=1)], {"kept serving the last good policy"}),
        ({}, [], {"kept serving the last good policy"}),
    ],
)  # fmt: skip
def test_policy_checks(
    facts: dict[str, object], outcomes: list[CallOutcome], failed: set[str]
) -> None:
    """Refused at publish; NACKed; and while NACKed, real answers from the good version."""
    checks = chk.policy_checks(_policy_window(**facts), outcomes)
    assert len(checks) == 3
    assert _failed(checks) == failed


def test_bad_policies_are_bad_in_the_intended_way() -> None:
    """`invalid` fails the schema (the control plane refuses it); `nack` and `dead`
    pass it (only a router can tell: a missing artefact, a dead model)."""
    sources = policy_sources((FILES / "policy.yaml").read_text())
    with pytest.raises(InvalidArgument):
        parse_policy(sources["invalid"])
    assert parse_policy(sources["nack"]).predictor is not None
    dead = parse_policy(sources["dead"])
    assert [s.model for s in dead.default.strategy.stages] == ["dead"]
    assert parse_policy(sources["good"]).degrade.static_answer


def test_tables_show_every_phase_and_mark_failures() -> None:
    s = sm.summarize(window(upstream_calls=2), [real(8.5), error(3.0, "UNAVAILABLE")])
    table = phase_table([s])
    assert "| soak | 2 | 1 | 0 | UNAVAILABLE 1 |" in table
    checks = _run_checks([s])
    assert "**FAIL**" in check_table(checks)


def test_a_results_file_renders_the_same_tables(tmp_path: Path) -> None:
    """`--readme FILE` re-renders a run's tables from its JSON, figures unchanged."""
    s = sm.summarize(window(upstream_calls=2), [real(8.5), error(3.0, "UNAVAILABLE")])
    checks = _run_checks([s])
    result = {
        "run_id": "x",
        "duration_s": 1.0,
        "machine_line": "a machine",
        "settings": {"profile": "short", "rate_rps": 40, "soak_s": 10},
        "phases": [s.as_dict()],
        "checks": [c.as_dict() for c in checks],
    }
    path = write_json(result, tmp_path)
    assert render_file(path) == render(result, [s], checks)
