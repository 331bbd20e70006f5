"""The checks of a chaos run over its phase summaries (see `bench.chaos.summary` for
what each figure means), and over the client's and the router's counts. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.chaos.outcomes import LOST, OK, UNTYPED, CallOutcome, PhaseWindow
from bench.chaos.summary import PhaseSummary


@dataclass(frozen=True)
class Thresholds:
    """The limits the checks hold a run to."""

    attempts_per_request: float = 1.2
    soak_success: float = 0.999
    recovery_s: float = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    phase: str
    passed: bool
    measured: str
    limit: str

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Check:
        return cls(d["check"], d["phase"], d["passed"], d["measured"], d["limit"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "phase": self.phase,
            "passed": self.passed,
            "measured": self.measured,
            "limit": self.limit,
        }


@dataclass(frozen=True)
class Reconciliation:
    """The client's count of the run against the router's own (`switchyard_rpc_total`)."""

    client_codes: dict[str, int]
    router_codes: dict[str, int]
    # Calls the client cut short: the router may have answered one the client gave up
    # on, or (cut before it arrived) never seen it.
    cut_by_client: int


def reconcile(r: Reconciliation) -> Check:
    sent = sum(r.client_codes.values())
    counted = sum(r.router_codes.values())
    ok_gap = abs(r.client_codes.get(OK, 0) - r.router_codes.get(OK, 0))
    lost = r.client_codes.get(LOST, 0)
    passed = lost == 0 and abs(sent - counted) <= r.cut_by_client and ok_gap <= r.cut_by_client
    return Check(
        "no request lost",
        "all",
        passed,
        f"sent {sent}, ended at the client {sent - lost}, counted by the router {counted}"
        f" (OK: client {r.client_codes.get(OK, 0)}, router {r.router_codes.get(OK, 0)})",
        f"every call ends; counts agree within the {r.cut_by_client} calls cut by the client",
    )


def check_run(
    summaries: Sequence[PhaseSummary],
    *,
    thresholds: Thresholds,
    soak_phase: str,
    recovery_phases: Iterable[str],
    reconciliation: Reconciliation,
    not_sent: int = 0,
) -> list[Check]:
    """Every check of the run, passed or not."""
    checks = [reconcile(reconciliation)]
    checks.append(
        Check(
            "load kept its schedule",
            "all",
            not_sent == 0,
            f"{not_sent} sends skipped at the client's in-flight bound",
            "0",
        )
    )
    untyped_router = {c: n for c, n in reconciliation.router_codes.items() if c in UNTYPED}
    recover = set(recovery_phases)
    for s in summaries:
        untyped = {
            c: s.errors.get(c, 0) + s.cut_codes.get(c, 0)
            for c in UNTYPED
            if s.errors.get(c) or s.cut_codes.get(c)
        }
        checks.append(
            Check(
                "no INTERNAL or UNKNOWN",
                s.name,
                not untyped,
                ", ".join(f"{c} {n}" for c, n in sorted(untyped.items())) or "none",
                "none",
            )
        )
        limit = thresholds.attempts_per_request * s.sent + s.probe_floor
        checks.append(
            Check(
                "attempts bounded",
                s.name,
                s.attempts <= limit,
                f"{s.attempts} attempts for {s.sent} requests",
                f"≤ {thresholds.attempts_per_request:g} × {s.sent} + {s.probe_floor} probes"
                f" = {limit:.0f}",
            )
        )
        if s.name == soak_phase:
            rate = s.success_rate if s.success_rate is not None else 0.0
            checks.append(
                Check(
                    "soak success",
                    s.name,
                    rate >= thresholds.soak_success,
                    f"{rate * 100:.3f} %",
                    f"≥ {thresholds.soak_success * 100:g} %",
                )
            )
        if s.name in recover:
            checks.append(
                Check(
                    "recovery",
                    s.name,
                    s.recovery_s is not None and s.recovery_s <= thresholds.recovery_s,
                    "no real answer after the fault"
                    if s.recovery_s is None
                    else f"{s.recovery_s:.2f} s",
                    f"≤ {thresholds.recovery_s:g} s",
                )
            )
        if s.name != "baseline":
            checks.append(
                Check(
                    "no breaker stuck open",
                    s.name,
                    not s.open_breakers_at_end,
                    ", ".join(s.open_breakers_at_end) or "none open at the end",
                    "none",
                )
            )
    checks.append(
        Check(
            "no INTERNAL or UNKNOWN (router count)",
            "all",
            not untyped_router,
            ", ".join(f"{c} {n}" for c, n in sorted(untyped_router.items())) or "none",
            "none",
        )
    )
    return checks


def policy_checks(window: PhaseWindow, outcomes: Sequence[CallOutcome]) -> list[Check]:
    """A bad policy push: the control plane refuses what it can see is invalid; what
    only a router can find wrong is NACKed, and routers keep serving the last good one."""
    facts = window.facts
    checks: list[Check] = []
    if "invalid_refused" in facts:
        refused = str(facts["invalid_refused"])
        checks.append(
            Check(
                "invalid policy refused at publish",
                window.name,
                refused.startswith("INVALID_ARGUMENT"),
                refused[:120],
                "INVALID_ARGUMENT, nothing stored",
            )
        )
    if "nack_version" in facts:
        seen = facts.get("nack_seen_s")
        checks.append(
            Check(
                "bad policy NACKed",
                window.name,
                seen is not None,
                "no NACK" if seen is None else f"NACK {seen:.2f} s after the push",
                "every router NACKs",
            )
        )
    if "nack_window_s" in facts and "good_version" in facts:
        start, end = facts["nack_window_s"]
        good = int(facts["good_version"])
        during = [o for o in outcomes if start <= o.intended_s < end and not o.cut]
        kept = [o for o in during if o.real_answer and o.policy_version == good]
        checks.append(
            Check(
                "kept serving the last good policy",
                window.name,
                bool(during) and len(kept) == len(during),
                f"{len(kept)} of {len(during)} real answers from v{good}",
                "all",
            )
        )
    return checks
