"""`switchyard policy ...`: operate the control plane from a shell.

    switchyard policy publish -f policy.yaml [--activate] [--validate-only] [-m MESSAGE]
    switchyard policy get [VERSION] [--source]
    switchyard policy list [--page-size N]
    switchyard policy activate VERSION | switchyard policy rollback VERSION
    switchyard policy canary VERSION --percent P | switchyard policy canary --clear
    switchyard policy breaker MODEL open|closed|drain|none [--reason TEXT]
    switchyard policy routers
    switchyard policy status | promote | shadow | artefact   (switchyard/cli/rollout.py)

Exit status: 0 done, 1 the control plane refused or could not be reached, 2 bad usage.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import grpc
from google.protobuf import timestamp_pb2

from switchyard.cli import rollout as rollout_cli
from switchyard.cli.connection import add_tls_flags, client_config, operator_token, tls_from_args
from switchyard.cli.output import report_call_error
from switchyard.cli.tables import format_table
from switchyard.client import error_from_rpc, open_channel
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.controlplane.v1 import controlplane_pb2_grpc as pb_grpc

DEFAULT_CONTROLPLANE = "127.0.0.1:50054"
TIMEOUT_S = 10.0

BREAKER_CHOICES = {
    "open": pb.BREAKER_OVERRIDE_FORCED_OPEN,
    "closed": pb.BREAKER_OVERRIDE_FORCED_CLOSED,
    "drain": pb.BREAKER_OVERRIDE_DRAIN,
    "none": pb.BREAKER_OVERRIDE_NONE,
}
BREAKER_NAMES = {
    pb.BREAKER_OVERRIDE_FORCED_OPEN: "forced open",
    pb.BREAKER_OVERRIDE_FORCED_CLOSED: "forced closed",
    pb.BREAKER_OVERRIDE_DRAIN: "draining",
}

Command = Callable[[pb_grpc.ControlPlaneServiceStub, argparse.Namespace], int]


def _author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _time(ts: timestamp_pb2.Timestamp) -> str:
    if not ts.seconds and not ts.nanos:
        return "-"
    return datetime.fromtimestamp(ts.seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _report_error(error: grpc.RpcError, address: str) -> int:
    return report_call_error(
        error_from_rpc(error),
        service="control plane",
        address=address,
        refused="nothing was changed",
        unreachable_status=1,
    )


def _run(command: Command) -> Callable[[argparse.Namespace], int]:
    """Open a channel to --controlplane, run the command, turn RPC errors into messages."""

    def run(args: argparse.Namespace) -> int:
        tls = tls_from_args(args)
        config = client_config(
            address=args.controlplane,
            tls=tls,
            timeout_s=TIMEOUT_S,
            token=operator_token(args.token, address=args.controlplane, tls=tls),
        )
        with open_channel(config) as channel:
            try:
                return command(pb_grpc.ControlPlaneServiceStub(channel), args)
            except grpc.RpcError as error:
                return _report_error(error, args.controlplane)

    return run


def _publish(stub: pb_grpc.ControlPlaneServiceStub, args: argparse.Namespace) -> int:
    try:
        source = Path(args.file).read_text() if args.file != "-" else sys.stdin.read()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    response = stub.PublishPolicy(
        pb.PublishPolicyRequest(
            source=source,
            author=args.author,
            message=args.message,
            validate_only=args.validate_only,
            activate=args.activate,
        ),
    )
    if args.validate_only:
        print(f"valid (sha256 {response.policy.content_hash[:12]}); nothing stored")
        return 0
    version = response.policy.version
    state = (
        "active"
        if response.active
        else f"stored, not active (activate with: switchyard policy activate {version})"
    )
    print(f"policy version {version}: {state}")
    return 0


def _get(stub: pb_grpc.ControlPlaneServiceStub, args: argparse.Namespace) -> int:
    response = stub.GetPolicy(pb.GetPolicyRequest(version=args.version))
    policy = response.policy
    if not args.source:
        print(f"# version {policy.version}{' (active)' if response.active else ''}")
        print(f"# sha256 {policy.content_hash}")
        print(f"# by {policy.author} at {_time(policy.create_time)}: {policy.message}")
    sys.stdout.write(policy.source if policy.source.endswith("\n") else policy.source + "\n")
    return 0


def _list(stub: pb_grpc.ControlPlaneServiceStub, args: argparse.Namespace) -> int:
    rows = []
    token = ""
    active = 0
    while True:
        page = stub.ListPolicies(pb.ListPoliciesRequest(page_size=args.page_size, page_token=token))
        active = page.active_version
        rows.extend(page.policies)
        token = page.next_page_token
        if not token or (args.limit and len(rows) >= args.limit):
            break
    if args.limit:
        rows = rows[: args.limit]
    if not rows:
        print("no policy versions yet")
        return 0
    print(
        format_table(
            ("VERSION", "ACTIVE", "CREATED", "AUTHOR", "SHA256", "MESSAGE"),
            (
                (
                    p.version,
                    "*" if p.version == active else "",
                    _time(p.create_time),
                    p.author,
                    p.content_hash[:12],
                    p.message.splitlines()[0] if p.message else "",
                )
                for p in rows
            ),
        )
    )
    return 0


def _rollback(stub: pb_grpc.ControlPlaneServiceStub, args: argparse.Namespace) -> int:
    response = stub.RollbackPolicy(
        pb.RollbackPolicyRequest(version=args.version, author=args.author)
    )
    print(f"policy version {response.policy.version} is active")
    return 0


def _canary(stub: pb_grpc.ControlPlaneServiceStub, args: argparse.Namespace) -> int:
    if args.clear == (args.version is not None):
        print("error: give a VERSION with --percent, or --clear", file=sys.stderr)
        return 2
    response = stub.SetRollout(
        pb.SetRolloutRequest(
            canary_version=0 if args.clear else args.version,
            canary_percent=0.0 if args.clear else args.percent,
            author=args.author,
            guard=None if args.clear else rollout_cli.guard_from_args(args),
        ),
    )
    rollout = response.rollout
    if rollout.canary_version:
        print(
            f"active {rollout.active_version}; canary {rollout.canary_version}"
            f" on {rollout.canary_percent:g}% of keys"
        )
    else:
        print(f"active {rollout.active_version}; no canary")
    return 0


def _breaker(stub: pb_grpc.ControlPlaneServiceStub, args: argparse.Namespace) -> int:
    response = stub.SetBreakerOverride(
        pb.SetBreakerOverrideRequest(
            model_id=args.model,
            override=BREAKER_CHOICES[args.state],
            author=args.author,
            reason=args.reason,
        ),
    )
    if not response.breaker_overrides:
        print("no breaker overrides in force")
        return 0
    print(
        format_table(
            ("MODEL", "OVERRIDE", "BY", "SINCE", "REASON"),
            (
                (
                    o.model_id,
                    BREAKER_NAMES.get(o.override, "?"),
                    o.author,
                    _time(o.update_time),
                    o.reason,
                )
                for o in response.breaker_overrides
            ),
        )
    )
    return 0


def _routers(stub: pb_grpc.ControlPlaneServiceStub, args: argparse.Namespace) -> int:
    routers: list[pb.RouterStatus] = []
    token = ""
    current = ""
    while True:
        page = stub.ListRouters(pb.ListRoutersRequest(page_token=token))
        routers.extend(page.routers)
        current = page.current_snapshot_version
        token = page.next_page_token
        if not token:
            break
    print(f"current snapshot: {current}")
    if not routers:
        print("no routers have connected yet")
        return 0
    print(
        format_table(
            ("ROUTER", "CONNECTED", "SNAPSHOT", "POLICY", "CANARY", "UP-TO-DATE", "LAST NACK"),
            (
                (
                    r.router_id,
                    "yes" if r.connected else "no",
                    r.acked_snapshot_version or "-",
                    r.active_version or "-",
                    r.canary_version or "-",
                    "yes" if r.up_to_date else "no",
                    f"{r.nacked_snapshot_version}: {r.nack_error}"
                    if r.nacked_snapshot_version
                    else "-",
                )
                for r in routers
            ),
        )
    )
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive version number")
    return value


def add_token_flag(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """--token for every command that calls the control plane (suppress: after the
    subcommand too, keeping the value given before it)."""
    parser.add_argument(
        "--token",
        default=argparse.SUPPRESS if suppress else os.environ.get("SWITCHYARD_TOKEN"),
        help="operator token ($SWITCHYARD_TOKEN; default: make run's dev operator token "
        "for a control plane on this machine)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `policy` and its subcommands; each sets func(args) -> exit status."""
    policy = subparsers.add_parser("policy", help="publish, inspect and roll out routing policies")
    policy.add_argument(
        "--controlplane",
        default=DEFAULT_CONTROLPLANE,
        metavar="HOST:PORT",
        help=f"control plane address (default {DEFAULT_CONTROLPLANE})",
    )
    add_tls_flags(policy)
    add_token_flag(policy)
    # Accepted after the subcommand too; SUPPRESS keeps the value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--controlplane", default=argparse.SUPPRESS, metavar="HOST:PORT")
    add_token_flag(common, suppress=True)
    add_tls_flags(common, suppress=True)
    common.add_argument("--author", default=_author(), help="recorded with the change")
    commands = policy.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")

    publish = commands.add_parser("publish", parents=[common], help="validate and store a policy")
    publish.add_argument("-f", "--file", required=True, help="policy YAML file ('-' for stdin)")
    publish.add_argument("-m", "--message", default="", help="why this version exists")
    publish.add_argument("--activate", action="store_true", help="make it active at once")
    publish.add_argument("--validate-only", action="store_true", help="check it, store nothing")
    publish.set_defaults(func=_run(_publish))

    get = commands.add_parser("get", parents=[common], help="show a version (default: active)")
    get.add_argument("version", type=int, nargs="?", default=0)
    get.add_argument("--source", action="store_true", help="print only the YAML")
    get.set_defaults(func=_run(_get))

    listing = commands.add_parser("list", parents=[common], help="list versions, newest first")
    listing.add_argument("--page-size", type=int, default=100)
    listing.add_argument("--limit", type=int, default=0, help="show at most N versions")
    listing.set_defaults(func=_run(_list))

    # One RPC, two names: operators promote with `activate` and undo with `rollback`.
    for name, purpose in (("activate", "make VERSION active"), ("rollback", "return to VERSION")):
        command = commands.add_parser(name, parents=[common], help=purpose)
        command.add_argument("version", type=_positive)
        command.set_defaults(func=_run(_rollback))

    canary = commands.add_parser("canary", parents=[common], help="send a share to a canary")
    canary.add_argument("version", type=_positive, nargs="?")
    canary.add_argument("--percent", type=float, default=5.0, help="share of keys (default 5)")
    canary.add_argument("--clear", action="store_true", help="remove the canary")
    rollout_cli.add_guard_flags(canary)
    canary.set_defaults(func=_run(_canary))

    breaker = commands.add_parser("breaker", parents=[common], help="force a model's breaker")
    breaker.add_argument("model")
    breaker.add_argument("state", choices=sorted(BREAKER_CHOICES))
    breaker.add_argument("--reason", default="", help="recorded with the override")
    breaker.set_defaults(func=_run(_breaker))

    routers = commands.add_parser("routers", parents=[common], help="what each router runs")
    routers.set_defaults(func=_run(_routers))
    rollout_cli.register(commands, common, _run)
