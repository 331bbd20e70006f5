"""What the router tells the control plane on its config stream, and what it takes back.

`FleetReporting` is the stream's fleet side (sync.subscribe_config drives it): it builds
`RouterReport`s (breaker changes at once, counts every `interval_s`, estimates every
`estimates_interval_s` when they changed), applies the pushed fleet view and estimates,
and hands every breaker back to local timing when the stream is lost.
"""

from __future__ import annotations

import asyncio
import contextlib

from services.router.breakers import BreakerBoard
from services.router.estimates import OutcomeEstimates
from services.router.fleet_breakers import BreakerReporter, apply_fleet_view, fleet_lost
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.estimate_figures import EstimateFigure, figure_protos, proto_figures

REPORT_INTERVAL_S = 0.25
ESTIMATES_INTERVAL_S = 1.0


class FleetReporting:
    def __init__(
        self,
        board: BreakerBoard,
        estimates: OutcomeEstimates | None,
        *,
        router_id: str,
        interval_s: float = REPORT_INTERVAL_S,
        estimates_interval_s: float = ESTIMATES_INTERVAL_S,
    ) -> None:
        self._board = board
        self._estimates = estimates
        self.router_id = router_id
        self._interval_s = interval_s
        self._estimates_interval_s = estimates_interval_s
        self._breakers = BreakerReporter(board)
        self._wake = asyncio.Event()
        self._sent_figures: dict[tuple[str, str], EstimateFigure] | None = None
        self._figures_due = 0.0

    def wake(self) -> None:
        """A breaker moved: report now rather than at the next interval."""
        self._wake.set()

    def connected(self) -> None:
        """A new stream: the first report describes everything again."""
        self._breakers.restart()
        self._sent_figures = None
        self._figures_due = 0.0

    def lost(self) -> None:
        fleet_lost(self._board)

    def apply(self, response: pb.SubscribeRouterConfigResponse) -> None:
        if response.HasField("fleet_breakers"):
            apply_fleet_view(self._board, response.fleet_breakers, router_id=self.router_id)
        if response.HasField("fleet_estimates") and self._estimates is not None:
            self._estimates.adopt_fleet(proto_figures(response.fleet_estimates.estimates))

    def report(self, nonce: str, *, now: float) -> pb.RouterReport | None:
        """The report due now, or None when nothing changed."""
        report = pb.RouterReport(router_id=self.router_id, nonce=nonce)
        report.breakers.extend(self._breakers.reports())
        if self._estimates is not None and now >= self._figures_due:
            self._figures_due = now + self._estimates_interval_s
            figures = self._estimates.figures()
            if figures != self._sent_figures:
                self._sent_figures = figures
                report.estimates.extend(figure_protos(figures))
        return report if report.breakers or report.estimates else None

    async def reports(self, nonce: NonceSource, outbox: asyncio.Queue) -> None:
        """Until cancelled: queue each due report (once the stream has a nonce)."""
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()
            if not nonce.current:
                continue  # nothing to attribute a report to until the first snapshot
            report = self.report(nonce.current, now=loop.time())
            if report is not None:
                outbox.put_nowait(pb.SubscribeRouterConfigRequest(report=report))


class NonceSource:
    """The nonce of the last snapshot this stream received."""

    def __init__(self) -> None:
        self.current = ""
