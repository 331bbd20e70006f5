"""`switchyard breakers ...`: the fleet breaker view and operator overrides.

    switchyard breakers list [--model MODEL]     fleet state, override, lease, per router
    switchyard breakers open MODEL [--reason T]  force open on every router
    switchyard breakers close MODEL [--reason T] force closed on every router
    switchyard breakers drain MODEL [--reason T] no new calls (panic mode may still use it)
    switchyard breakers clear MODEL              remove the override: routers and fleet decide

Exit status: 0 done, 1 the control plane refused or could not be reached, 2 bad usage.
"""

from __future__ import annotations

import argparse

from switchyard.cli.connection import add_tls_flags
from switchyard.cli.policy import DEFAULT_CONTROLPLANE, _author, _run, _time, add_token_flag
from switchyard.cli.tables import format_table
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.controlplane.v1 import controlplane_pb2_grpc as pb_grpc

OVERRIDES = {
    "open": pb.BREAKER_OVERRIDE_FORCED_OPEN,
    "close": pb.BREAKER_OVERRIDE_FORCED_CLOSED,
    "drain": pb.BREAKER_OVERRIDE_DRAIN,
    "clear": pb.BREAKER_OVERRIDE_NONE,
}
OVERRIDE_NAMES = {
    pb.BREAKER_OVERRIDE_FORCED_OPEN: "forced open",
    pb.BREAKER_OVERRIDE_FORCED_CLOSED: "forced closed",
    pb.BREAKER_OVERRIDE_DRAIN: "draining",
}
FLEET_NAMES = {
    pb.FLEET_BREAKER_STATE_CLOSED: "closed",
    pb.FLEET_BREAKER_STATE_OPEN: "open",
    pb.FLEET_BREAKER_STATE_HALF_OPEN: "half-open",
}


def _local_name(state: int) -> str:
    name = pb.LocalBreakerState.Name(state).removeprefix("LOCAL_BREAKER_STATE_")
    return name.lower().replace("_", "-")


def _lease(status: pb.ModelBreakerStatus) -> str:
    if not status.HasField("lease"):
        return "-"
    lease = status.lease
    return f"{lease.router_id} ({lease.probes} probes, until {_time(lease.expire_time)})"


def _list(stub: pb_grpc.ControlPlaneServiceStub, args: argparse.Namespace) -> int:
    statuses: list[pb.ModelBreakerStatus] = []
    token = ""
    while True:
        page = stub.ListBreakers(pb.ListBreakersRequest(page_token=token))
        statuses.extend(b for b in page.breakers if not args.model or b.model_id == args.model)
        token = page.next_page_token
        if not token:
            break
    if not statuses:
        print("no breaker has been reported or overridden yet")
    else:
        rows = []
        for s in statuses:
            rows.append(
                (
                    s.model_id,
                    FLEET_NAMES.get(s.state, "?"),
                    OVERRIDE_NAMES.get(s.override, "-"),
                    s.opened_by_router_id or "-",
                    _lease(s),
                    "",
                )
            )
            rows.extend(
                (
                    "",
                    f"  {r.router_id}",
                    _local_name(r.state),
                    f"ok {r.successes} / failed {r.failures} / slow {r.slow_calls}",
                    _time(r.report_time),
                    "connected" if r.connected else "gone",
                )
                for r in s.routers
            )
        print(format_table(("MODEL", "FLEET", "OVERRIDE", "OPENED BY", "LEASE", ""), rows))
    ignored = (page.ignored_unknown_router_reports, page.ignored_stale_nonce_reports)
    if any(ignored):
        print(f"ignored reports: {ignored[0]} from an unknown router, {ignored[1]} stale")
    return 0


def _override(stub: pb_grpc.ControlPlaneServiceStub, args: argparse.Namespace) -> int:
    response = stub.SetBreakerOverride(
        pb.SetBreakerOverrideRequest(
            model_id=args.model,
            override=OVERRIDES[args.breaker_command],
            author=args.author,
            reason=args.reason,
        )
    )
    mine = next((o for o in response.breaker_overrides if o.model_id == args.model), None)
    state = OVERRIDE_NAMES.get(mine.override, "?") if mine else "no override"
    print(f"{args.model}: {state} on every router")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `breakers` and its subcommands; each sets func(args) -> exit status."""
    breakers = subparsers.add_parser(
        "breakers", help="show the fleet's breakers; force, drain or release one"
    )
    breakers.add_argument(
        "--controlplane",
        default=DEFAULT_CONTROLPLANE,
        metavar="HOST:PORT",
        help=f"control plane address (default {DEFAULT_CONTROLPLANE})",
    )
    add_tls_flags(breakers)
    add_token_flag(breakers)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--controlplane", default=argparse.SUPPRESS, metavar="HOST:PORT")
    add_tls_flags(common, suppress=True)
    add_token_flag(common, suppress=True)
    commands = breakers.add_subparsers(dest="breakers_command", required=True, metavar="COMMAND")

    listing = commands.add_parser(
        "list", parents=[common], help="fleet state, override and lease per model, per router"
    )
    listing.add_argument("--model", default="", help="only this model")
    listing.set_defaults(func=_run(_list))

    purposes = {
        "open": "force MODEL's breaker open on every router",
        "close": "force MODEL's breaker closed on every router",
        "drain": "send MODEL no new calls (panic mode may still use it)",
        "clear": "remove MODEL's override",
    }
    for name, purpose in purposes.items():
        command = commands.add_parser(name, parents=[common], help=purpose)
        command.add_argument("model")
        command.add_argument("--reason", default="", help="recorded with the override")
        command.add_argument("--author", default=_author(), help="recorded with the change")
        command.set_defaults(func=_run(_override), breaker_command=name)
