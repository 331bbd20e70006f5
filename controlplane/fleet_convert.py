"""Converters between the fleet messages on the wire and controlplane.breakers/estimates."""

from __future__ import annotations

from controlplane.breakers import FleetState, Lease, ModelBreaker, ModelReport, RouterDetail
from controlplane.convert import BREAKER_STATES, timestamp
from controlplane.model import BreakerOverrideRecord
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.estimate_figures import EstimateFigure, Key, figure_protos, proto_figures

LOCAL_STATES: dict[int, str] = {
    pb.LOCAL_BREAKER_STATE_CLOSED: "closed",
    pb.LOCAL_BREAKER_STATE_OPEN: "open",
    pb.LOCAL_BREAKER_STATE_HALF_OPEN: "half_open",
    pb.LOCAL_BREAKER_STATE_FORCED_OPEN: "forced_open",
    pb.LOCAL_BREAKER_STATE_FORCED_CLOSED: "forced_closed",
    pb.LOCAL_BREAKER_STATE_DRAINING: "draining",
}
LOCAL_PROTOS = {name: value for value, name in LOCAL_STATES.items()}
FLEET_STATES: dict[FleetState, int] = {
    "closed": pb.FLEET_BREAKER_STATE_CLOSED,
    "open": pb.FLEET_BREAKER_STATE_OPEN,
    "half_open": pb.FLEET_BREAKER_STATE_HALF_OPEN,
}
MAX_MODEL_ID_CHARS = 128


def model_reports(report: pb.RouterReport) -> list[ModelReport]:
    """The report's breakers; entries without a usable model id are dropped."""
    return [
        ModelReport(
            model_id=b.model_id,
            state=LOCAL_STATES.get(b.state, "closed"),
            transitions=tuple(
                (LOCAL_STATES.get(t.from_state, "closed"), LOCAL_STATES.get(t.to_state, "closed"))
                for t in b.transitions
            ),
            successes=b.successes,
            failures=b.failures,
            slow_calls=b.slow_calls,
            lease_id=b.lease_id,
            probes_admitted=b.probes_admitted,
            probe_successes=b.probe_successes,
            probe_failures=b.probe_failures,
        )
        for b in report.breakers
        if b.model_id and len(b.model_id) <= MAX_MODEL_ID_CHARS
    ]


def estimate_figures(report: pb.RouterReport) -> dict[Key, EstimateFigure] | None:
    """None when the report carries no estimates (they did not change)."""
    return proto_figures(report.estimates) if report.estimates else None


def fleet_estimates(figures: dict[Key, EstimateFigure], routers: int) -> pb.FleetEstimates:
    return pb.FleetEstimates(estimates=figure_protos(figures), routers=routers)


def lease(record: Lease | None) -> pb.BreakerLease | None:
    if record is None:
        return None
    return pb.BreakerLease(
        lease_id=record.lease_id,
        router_id=record.router_id,
        probes=record.probes,
        expire_time=timestamp(record.expire_time_us),
    )


def breaker_view(models: list[ModelBreaker], revision: int) -> pb.FleetBreakerView:
    return pb.FleetBreakerView(
        revision=revision,
        breakers=[
            pb.FleetBreaker(
                model_id=m.model_id,
                state=FLEET_STATES[m.state],
                opened_by_router_id=m.opened_by,
                lease=lease(m.lease),
            )
            for m in models
        ],
    )


def router_detail(detail: RouterDetail, *, connected: bool) -> pb.RouterBreakerStatus:
    return pb.RouterBreakerStatus(
        router_id=detail.router_id,
        state=LOCAL_PROTOS.get(detail.state, pb.LOCAL_BREAKER_STATE_UNSPECIFIED),
        successes=detail.successes,
        failures=detail.failures,
        slow_calls=detail.slow_calls,
        report_time=timestamp(detail.report_time_us),
        connected=connected,
    )


def breaker_status(
    model_id: str,
    model: ModelBreaker | None,
    override: BreakerOverrideRecord | None,
    connected: frozenset[str],
) -> pb.ModelBreakerStatus:
    status = pb.ModelBreakerStatus(
        model_id=model_id,
        state=FLEET_STATES[model.state] if model else pb.FLEET_BREAKER_STATE_CLOSED,
        override=BREAKER_STATES[override.state] if override else pb.BREAKER_OVERRIDE_NONE,
        override_reason=override.reason if override else "",
    )
    if model is None:
        return status
    status.opened_by_router_id = model.opened_by
    if model.state != "closed":
        status.open_time.CopyFrom(timestamp(model.open_time_us))
    if model.state == "open":
        status.half_open_time.CopyFrom(timestamp(model.half_open_time_us))
    if model.lease is not None:
        status.lease.CopyFrom(lease(model.lease))
    status.routers.extend(
        router_detail(d, connected=d.router_id in connected)
        for _, d in sorted(model.routers.items())
    )
    return status
