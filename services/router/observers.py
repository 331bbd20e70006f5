"""What became of each Route() call, handed to whoever watches routes.

The servicer fills one `RouteTrace` as the route goes (policy, rule, plan, result or
error) and gives it, finished, to every observer: metrics, the decision log, rollout
reports. Observers run on the request path, after the answer is built, so they must
be cheap and must not block (queue and write elsewhere); one that raises is logged
and counted, and never fails the route.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import grpc
import structlog

from services.router.execution import AttemptRecord, RouteResult, attempts_of
from services.router.plan import RoutePlan
from services.router.tenant_budget import TenantAllowance
from services.router.validation import RouteInput
from switchyard.router.v1 import router_pb2
from switchyard.runtime.errors import SwitchyardError

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class RouteTrace:
    """One Route() call, filled in as it goes; fields stay None where it never got to."""

    request_id: str
    started_unix_s: float
    started_monotonic: float
    request: RouteInput | None = None
    policy_version: int = 0
    # The version came from the rollout's canary share, not the active one.
    canary: bool = False
    rule: str = ""
    plan: RoutePlan | None = None
    # The tenant's window as the route found it (None: the policy does not limit it).
    allowance: TenantAllowance | None = None
    result: RouteResult | None = None
    # What a route without a result tried: a failed one, or one answered from the stale
    # cache after every stage failed.
    attempts: tuple[AttemptRecord, ...] = ()
    response: router_pb2.RouteResponse | None = None
    cache_hit: bool = False
    idempotent_replay: bool = False
    # OK when a response was returned; else the status the caller got.
    code: grpc.StatusCode = grpc.StatusCode.OK
    error: str = ""
    latency_ms: float = 0.0
    finished: bool = field(default=False, repr=False)

    @classmethod
    def start(cls, request_id: str) -> RouteTrace:
        return cls(request_id, time.time(), time.monotonic())

    def finish(self, exc: BaseException | None = None) -> None:
        self.latency_ms = (time.monotonic() - self.started_monotonic) * 1000.0
        self.finished = True
        if exc is None:
            return
        self.attempts = attempts_of(exc) or self.attempts
        if isinstance(exc, SwitchyardError):
            self.code, self.error = exc.code, str(exc)
        elif isinstance(exc, TimeoutError):
            self.code, self.error = grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"
        else:
            # CancelledError (the caller went away) or a bug the interceptor turns into
            # INTERNAL: either way the route ended without an answer.
            self.code = (
                grpc.StatusCode.CANCELLED
                if type(exc).__name__ == "CancelledError"
                else grpc.StatusCode.INTERNAL
            )
            self.error = type(exc).__name__


class RouteObserver(Protocol):
    def observe(self, trace: RouteTrace) -> None:
        """Called once per finished Route(), on the event loop: must not block."""


@dataclass
class ObserverFailures:
    """Observers that raised (exported as a metric); the route was answered anyway."""

    count: int = 0


OBSERVER_FAILURES = ObserverFailures()


def notify(observers: Sequence[RouteObserver], trace: RouteTrace) -> None:
    for observer in observers:
        try:
            observer.observe(trace)
        except Exception as exc:  # an observer's bug must never fail a route
            OBSERVER_FAILURES.count += 1
            log.error("route.observer_failed", observer=type(observer).__name__, error=repr(exc))
