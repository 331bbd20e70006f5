"""`switchyard policy status|promote|shadow|artefact ...`: guarded rollouts from a shell.

    switchyard policy status
    switchyard policy canary VERSION --percent P [--guard-min-requests N --max-error-rate R ...]
    switchyard policy promote [--steps 25,50,100] [--step-interval 60]
    switchyard policy shadow VERSION --percent P [--execute-percent E --max-spend-micros-per-hour C]
    switchyard policy shadow --clear
    switchyard policy artefact upload FILE [--kind predictor|scorer]
    switchyard policy artefact list

Exit status as `switchyard policy`: 0 done, 1 refused or unreachable, 2 bad usage.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

from switchyard.cli.tables import format_table
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.controlplane.v1 import controlplane_pb2_grpc as pb_grpc

Command = Callable[[pb_grpc.ControlPlaneServiceStub, argparse.Namespace], int]
Runner = Callable[[Command], Callable[[argparse.Namespace], int]]
KINDS = {"predictor": pb.ARTEFACT_KIND_PREDICTOR, "scorer": pb.ARTEFACT_KIND_SCORER}
GUARD_FLAGS = (
    ("--guard-min-requests", "min_requests", int, "requests before the guard judges (100)"),
    ("--max-error-rate", "max_error_rate", float, "roll back above this error rate (0..1)"),
    ("--max-p95-latency-ms", "max_p95_latency_ms", float, "roll back above this p95"),
    ("--max-cost-micros-per-1k", "max_cost_micros_per_1k", int, "roll back above this cost"),
    ("--max-escalation-rate", "max_escalation_rate", float, "roll back above this rate"),
    ("--min-verifier-acceptance", "min_verifier_acceptance", float, "roll back below this"),
)


def guard_from_args(args: argparse.Namespace) -> pb.CanaryGuard | None:
    """The --max-* flags as a guard; None when none was given."""
    values = {field: getattr(args, field) for _, field, _, _ in GUARD_FLAGS}
    if all(v is None for k, v in values.items() if k != "min_requests"):
        return None
    if values["min_requests"] is None:
        values["min_requests"] = 100
    return pb.CanaryGuard(**{k: v for k, v in values.items() if v is not None})


def add_guard_flags(parser: argparse.ArgumentParser) -> None:
    for flag, field, kind, text in GUARD_FLAGS:
        parser.add_argument(flag, dest=field, type=kind, default=None, help=text)


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%"


def _status(stub: pb_grpc.ControlPlaneServiceStub, args: argparse.Namespace) -> int:
    s = stub.GetRolloutStatus(pb.GetRolloutStatusRequest())
    r = s.rollout
    line = f"active {r.active_version}"
    if r.canary_version:
        line += f"; canary {r.canary_version} on {r.canary_percent:g}% of keys"
    if r.shadow.version:
        line += f"; shadow {r.shadow.version} on {r.shadow.percent:g}%"
    print(line)
    if s.guard_verdict:
        print(f"guard: {s.guard_verdict}")
    if s.HasField("promotion"):
        p = s.promotion
        steps = ", ".join(f"{x:g}%" for x in p.steps)
        print(f"promotion: step {p.next_step + 1} of [{steps}], waiting for {p.waiting_for or '-'}")
    if s.versions:
        print(
            format_table(
                (
                    "VERSION",
                    "ROLE",
                    "SHARE",
                    "REQUESTS",
                    "ERRORS",
                    "P95 MS",
                    "COST/1K µ$",
                    "ESCALATED",
                    "ACCEPTED",
                ),
                (
                    (
                        v.policy_version,
                        v.role,
                        _pct(v.traffic_share),
                        v.requests,
                        _pct(v.error_rate),
                        f"{v.p95_latency_ms:g}",
                        v.cost_micros_per_1k,
                        _pct(v.escalation_rate),
                        _pct(v.verifier_acceptance) if v.verified else "-",
                    )
                    for v in s.versions
                ),
            )
        )
    if s.HasField("shadow"):
        c = s.shadow
        print(
            f"shadow {c.shadow_version} vs active {c.active_version}: {c.compared} compared,"
            f" agreement {_pct(c.agreement_rate)}, {c.executed} executed;"
            f" cost/1k {c.shadow_cost_micros_per_1k} vs {c.active_cost_micros_per_1k} µ$;"
            f" p95 {c.shadow_p95_latency_ms:g} vs {c.active_p95_latency_ms:g} ms;"
            f" acceptance {_pct(c.shadow_acceptance)} vs {_pct(c.active_acceptance)}"
        )
    if s.events:
        print("recent changes:")
        for e in s.events[:10]:
            print(f"  {e.generation:>4}  {e.action:<20} {e.author:<16} {e.detail}")
    return 0


def _promote(stub: pb_grpc.ControlPlaneServiceStub, args: argparse.Namespace) -> int:
    reply = stub.PromoteCanary(
        pb.PromoteCanaryRequest(
            steps=args.steps, step_interval_s=args.step_interval, author=args.author
        )
    )
    p = reply.promotion
    steps = ", ".join(f"{x:g}%" for x in p.steps)
    print(f"promoting canary {p.canary_version} through {steps}, every {p.step_interval_s:g} s")
    return 0


def _shadow(stub: pb_grpc.ControlPlaneServiceStub, args: argparse.Namespace) -> int:
    if args.clear == (args.version is not None):
        print("error: give a VERSION with --percent, or --clear", file=sys.stderr)
        return 2
    shadow = pb.Shadow()
    if not args.clear:
        shadow = pb.Shadow(
            version=args.version,
            percent=args.percent,
            execute_percent=args.execute_percent,
            max_spend_micros_per_hour=args.max_spend_micros_per_hour,
        )
    reply = stub.SetShadow(pb.SetShadowRequest(shadow=shadow, author=args.author))
    s = reply.rollout.shadow
    print(f"shadow {s.version} on {s.percent:g}%" if s.version else "no shadow version")
    return 0


def _upload(stub: pb_grpc.ControlPlaneServiceStub, args: argparse.Namespace) -> int:
    try:
        content = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    reply = stub.UploadArtefact(
        pb.UploadArtefactRequest(
            name=Path(args.file).name,
            kind=KINDS[args.kind],
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
            author=args.author,
        )
    )
    a = reply.artefact
    print(f"{a.digest}  {a.size_bytes} bytes  {'stored' if reply.created else 'already stored'}")
    print(f'name it in a policy:  predictor: {{artefact: "{a.digest}"}}')
    return 0


def _artefacts(stub: pb_grpc.ControlPlaneServiceStub, args: argparse.Namespace) -> int:
    rows, token = [], ""
    while True:
        page = stub.ListArtefacts(pb.ListArtefactsRequest(page_token=token))
        rows.extend(page.artefacts)
        token = page.next_page_token
        if not token:
            break
    if not rows:
        print("no artefacts uploaded")
        return 0
    names = {v: k for k, v in KINDS.items()}
    print(
        format_table(
            ("DIGEST", "KIND", "BYTES", "NAME", "BY"),
            ((a.digest, names.get(a.kind, "?"), a.size_bytes, a.name, a.author) for a in rows),
        )
    )
    return 0


def _steps(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError("comma-separated percents, e.g. 25,50,100") from exc


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    run: Runner,
) -> None:
    """Add status, promote, shadow and artefact under `switchyard policy`."""
    status = commands.add_parser(
        "status", parents=[common], help="per-version figures, guard, shadow, history"
    )
    status.set_defaults(func=run(_status))

    promote = commands.add_parser(
        "promote", parents=[common], help="move a healthy canary to 100%% in steps"
    )
    promote.add_argument("--steps", type=_steps, default=[], help="percents (default 25,50,100)")
    promote.add_argument("--step-interval", type=float, default=0.0, help="seconds (default 60)")
    promote.set_defaults(func=run(_promote))

    shadow = commands.add_parser("shadow", parents=[common], help="run a version in shadow")
    shadow.add_argument("version", type=int, nargs="?")
    shadow.add_argument("--percent", type=float, default=10.0, help="share selected (10)")
    shadow.add_argument("--execute-percent", type=float, default=0.0, help="share executed (0)")
    shadow.add_argument("--max-spend-micros-per-hour", type=int, default=0, help="cap (0)")
    shadow.add_argument("--clear", action="store_true", help="remove the shadow")
    shadow.set_defaults(func=run(_shadow))

    artefact = commands.add_parser("artefact", parents=[common], help="upload or list artefacts")
    actions = artefact.add_subparsers(dest="artefact_command", required=True, metavar="ACTION")
    upload = actions.add_parser("upload", parents=[common], help="upload a predictor or scorer")
    upload.add_argument("file")
    upload.add_argument("--kind", choices=sorted(KINDS), default="predictor")
    upload.set_defaults(func=run(_upload))
    listing = actions.add_parser("list", parents=[common], help="list uploaded artefacts")
    listing.set_defaults(func=run(_artefacts))
