"""The router's half of fleet breakers: report local breakers, follow the fleet view.

Reports carry, per model that changed, the local state, the transitions this router's
own outcomes caused, outcome counts since the previous report and the progress of a
fleet lease. The fleet view (pushed by the control plane) holds models OPEN, grants
this router a probe lease, or hands a model back (CLOSED). Operator overrides come in
the snapshot and win over both (app.apply_breaker_policy).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.router.breakers import Breaker, BreakerBoard, BreakerState, OutcomeCounts
from switchyard.controlplane.v1 import controlplane_pb2 as pb

LOCAL_STATES = {
    BreakerState.CLOSED: pb.LOCAL_BREAKER_STATE_CLOSED,
    BreakerState.OPEN: pb.LOCAL_BREAKER_STATE_OPEN,
    BreakerState.HALF_OPEN: pb.LOCAL_BREAKER_STATE_HALF_OPEN,
    BreakerState.FORCED_OPEN: pb.LOCAL_BREAKER_STATE_FORCED_OPEN,
    BreakerState.FORCED_CLOSED: pb.LOCAL_BREAKER_STATE_FORCED_CLOSED,
    BreakerState.DRAINING: pb.LOCAL_BREAKER_STATE_DRAINING,
}


def apply_fleet_view(board: BreakerBoard, view: pb.FleetBreakerView, *, router_id: str) -> None:
    """Hold, lease or release each model as the fleet says; unlisted models are CLOSED."""
    listed = set()
    for fleet in view.breakers:
        listed.add(fleet.model_id)
        breaker = board.get(fleet.model_id)
        if fleet.state == pb.FLEET_BREAKER_STATE_OPEN:
            breaker.hold_open()
        elif fleet.state == pb.FLEET_BREAKER_STATE_HALF_OPEN:
            if fleet.lease.router_id == router_id and fleet.lease.lease_id:
                breaker.grant_lease(fleet.lease.lease_id, fleet.lease.probes)
            else:
                breaker.hold_open()
        else:
            breaker.release_to_fleet_closed()
    for model_id, breaker in board.items():
        if model_id not in listed and breaker.fleet_held:
            breaker.release_to_fleet_closed()


def fleet_lost(board: BreakerBoard) -> None:
    """The control plane is unreachable: every breaker goes back to local timing."""
    for _, breaker in board.items():
        breaker.fleet_lost()


@dataclass
class _Reported:
    state: BreakerState
    counts: OutcomeCounts
    lease: tuple[str, int, int, int] | None


class BreakerReporter:
    """Builds each report from the board: only models that changed since the last one."""

    def __init__(self, board: BreakerBoard) -> None:
        self._board = board
        self._reported: dict[str, _Reported] = {}

    def restart(self) -> None:
        """A new stream: the next report describes every model again. Transitions from
        while the control plane was away are history; a breaker that is still OPEN on
        its own is reported as opening now, so the fleet hears of it."""
        self._reported.clear()
        for _, breaker in self._board.items():
            opened = breaker.state is BreakerState.OPEN and not breaker.fleet_held
            breaker.local_transitions = [(BreakerState.CLOSED, BreakerState.OPEN)] if opened else []

    def reports(self) -> list[pb.ModelBreakerReport]:
        out = []
        for model_id, breaker in self._board.items():
            report = self._report(model_id, breaker)
            if report is not None:
                out.append(report)
        return out

    def _report(self, model_id: str, breaker: Breaker) -> pb.ModelBreakerReport | None:
        state = breaker.state
        counts = breaker.counts
        lease = breaker.lease
        lease_key = (
            (lease.lease_id, lease.admitted, lease.successes, lease.failures) if lease else None
        )
        before = self._reported.get(model_id)
        transitions, breaker.local_transitions = breaker.local_transitions, []
        if (
            before is not None
            and not transitions
            and before.state is state
            and before.counts == counts
            and before.lease == lease_key
        ):
            return None
        base = before.counts if before is not None else OutcomeCounts()
        self._reported[model_id] = _Reported(state, OutcomeCounts(**vars(counts)), lease_key)
        report = pb.ModelBreakerReport(
            model_id=model_id,
            state=LOCAL_STATES[state],
            transitions=[
                pb.BreakerTransition(from_state=LOCAL_STATES[old], to_state=LOCAL_STATES[new])
                for old, new in transitions
            ],
            successes=counts.successes - base.successes,
            failures=counts.failures - base.failures,
            slow_calls=counts.slow_calls - base.slow_calls,
        )
        if lease is not None:
            report.lease_id = lease.lease_id
            report.probes_admitted = lease.admitted
            report.probe_successes = lease.successes
            report.probe_failures = lease.failures
        return report
