"""`switchyard decisions ...`: query and export the router's decision log
(docs/observability.md#decision-log).

    switchyard decisions list [--since 1h] [--tenant T] [--rule R] [--model M] [--outcome O]
    switchyard decisions show REQUEST_ID [-o json]
    switchyard decisions stats [filters]
    switchyard decisions export --format jsonl|csv --out FILE [filters]
    switchyard decisions label REQUEST_ID 0.9 [--source human]   # RecordFeedback on the router

Reads the router's SQLite file read-only (safe while the router writes): --db, default
var/router/decisions.db (what `make run` writes), plus the rotated files beside it.
`label` is the one command that talks to the router (--router, --token and --tls-* as
for `switchyard route`). Exit status: 0 done, 1 a request id with no decision (or the
router refused the label), 2 bad usage or no log at the path, 3 router unreachable.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from services.router.decision_log.export import (
    CSV_COLUMNS,
    csv_row,
    dataset_records,
    route_stats,
)
from services.router.decision_log.query import (
    DecisionFilter,
    DecisionLogMissing,
    DecisionReader,
    LoggedDecision,
)
from services.router.decision_log.record import DecisionOutcome
from switchyard.cli.connection import add_tls_flags, client_config, router_token, tls_from_args
from switchyard.cli.output import ROUTER_HINTS, report_call_error
from switchyard.cli.tables import format_table
from switchyard.client import DEFAULT_ROUTER, CallError, RouterClient
from switchyard.learning.dataset import write_dataset

DEFAULT_DB = Path("var/router/decisions.db")
_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    decisions = subparsers.add_parser("decisions", help="query and export the decision log")
    commands = decisions.add_subparsers(dest="decisions_command", required=True)

    listing = commands.add_parser("list", help="decisions, newest first")
    _filters(listing)
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("-o", "--output", choices=("table", "jsonl"), default="table")
    listing.set_defaults(func=_guarded(_list))

    show = commands.add_parser("show", help="one request's decision: candidates, attempts, labels")
    _db_flag(show)
    show.add_argument("request_id")
    show.add_argument("-o", "--output", choices=("text", "json"), default="text")
    show.set_defaults(func=_guarded(_show))

    stats = commands.add_parser(
        "stats", help="per route: expected vs actual cost and latency, escalations, p95"
    )
    _filters(stats)
    stats.set_defaults(func=_guarded(_stats))

    export = commands.add_parser(
        "export", help="labelled decisions as a dataset (jsonl) or every decision as CSV"
    )
    _filters(export)
    export.add_argument("--format", choices=("jsonl", "csv"), required=True)
    export.add_argument("--out", type=Path, required=True)
    export.set_defaults(func=_guarded(_export))

    label = commands.add_parser("label", help="attach a quality label in [0, 1] to a decision")
    label.add_argument("request_id")
    label.add_argument("label", type=float, help="the answer's quality, 0 (bad) .. 1 (good)")
    label.add_argument("--source", default="", help="who labels: human, thumbs, ... (default api)")
    label.add_argument(
        "--router",
        default=os.environ.get("SWITCHYARD_ROUTER", DEFAULT_ROUTER),
        metavar="HOST:PORT",
        help=f"router address ($SWITCHYARD_ROUTER, default {DEFAULT_ROUTER})",
    )
    label.add_argument("--token", default=os.environ.get("SWITCHYARD_TOKEN"))
    label.add_argument("--timeout", type=float, default=10.0, help="deadline, seconds")
    add_tls_flags(label)
    label.set_defaults(func=_label)


def _label(args: argparse.Namespace) -> int:
    tls = tls_from_args(args)
    config = client_config(
        address=args.router,
        token=router_token(args.token, address=args.router, tls=tls),
        tls=tls,
        timeout_s=args.timeout,
    )
    try:
        with RouterClient(config) as router:
            reply = router.record_feedback(args.request_id, args.label, source=args.source)
    except CallError as error:
        return report_call_error(error, service="router", address=args.router, hints=ROUTER_HINTS)
    print(f"labelled {reply.request_id} {args.label:g} from {reply.source}")
    return 0


def _db_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", type=Path, default=DEFAULT_DB, help=f"the router's decision log ({DEFAULT_DB})"
    )


def _filters(parser: argparse.ArgumentParser) -> None:
    _db_flag(parser)
    parser.add_argument("--since", type=_when, help="ISO time or an age: 30m, 2h, 7d")
    parser.add_argument("--until", type=_when, help="ISO time or an age")
    parser.add_argument("--tenant")
    parser.add_argument("--rule")
    parser.add_argument("--model", help="the model that answered, or any model the route tried")
    parser.add_argument("--outcome", choices=[o.value for o in DecisionOutcome])
    parser.add_argument("--shadow", action="store_true", help="shadow-policy decisions instead")


def _when(text: str) -> float:
    """An ISO 8601 time (UTC unless it says) or an age ('15m' = 15 minutes ago)."""
    ago = _AGO.match(text.strip())
    if ago:
        return time.time() - float(ago.group(1)) * _UNIT_S[ago.group(2)]
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected an ISO time (2026-12-02T03:00) or an age (30m, 2h, 7d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _where(args: argparse.Namespace) -> DecisionFilter:
    return DecisionFilter(
        since_unix=args.since,
        until_unix=args.until,
        tenant=args.tenant,
        rule=args.rule,
        model=args.model,
        outcome=DecisionOutcome(args.outcome) if args.outcome else None,
        shadow=args.shadow,
    )


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except DecisionLogMissing as exc:
            print(f"switchyard decisions: {exc}", file=sys.stderr)
        except OSError as exc:
            print(
                f"switchyard decisions: {exc.filename or ''}: {exc.strerror or exc}",
                file=sys.stderr,
            )
        return 2

    return run


def _time(unix_s: float) -> str:
    return dt.datetime.fromtimestamp(unix_s, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _list(args: argparse.Namespace) -> int:
    found = DecisionReader(args.db).decisions(_where(args), limit=args.limit)
    if args.output == "jsonl":
        for logged in found:
            print(json.dumps(_as_json(logged), ensure_ascii=False))
        return 0
    header = ("TIME", "REQUEST", "TENANT", "RULE", "MODEL", "OUTCOME", "ATT", "µUSD", "MS", "LABEL")
    rows = [
        (
            _time(d.time_unix),
            d.request_id,
            d.tenant or "-",
            d.rule or "-",
            d.model_id or "-",
            d.outcome.value if d.code == "OK" else f"{d.outcome.value} ({d.code})",
            d.attempts,
            d.cost_micros,
            f"{d.latency_ms:.0f}",
            _fmt(logged.label.label if logged.label else None, 2),
        )
        for logged in found
        for d in (logged.decision,)
    ]
    print(format_table(header, rows))
    return 0


def _as_json(logged: LoggedDecision) -> dict[str, object]:
    out = asdict(logged.decision)
    out["outcome"] = logged.decision.outcome.value
    out["time"] = _time(logged.decision.time_unix)
    out["labels"] = [asdict(label) for label in logged.labels]
    return out


def _show(args: argparse.Namespace) -> int:
    found = DecisionReader(args.db).find(args.request_id)
    if not found:
        print(
            f"switchyard decisions: no decision with request id {args.request_id!r}",
            file=sys.stderr,
        )
        return 1
    if args.output == "json":
        print(json.dumps([_as_json(logged) for logged in found], ensure_ascii=False, indent=2))
        return 0
    for logged in found:
        _print_decision(logged)
    return 0


def _print_decision(logged: LoggedDecision) -> None:
    d = logged.decision
    head = "shadow of " + d.shadow_of if d.shadow else "request"
    print(f"{head} {d.request_id} at {_time(d.time_unix)}")
    facts = [
        ("outcome", f"{d.outcome.value} ({d.code}){': ' + d.error if d.error else ''}"),
        ("tenant / tier / task", f"{d.tenant or '-'} / {d.tier or '-'} / {d.task_type or '-'}"),
        ("rule", f"{d.rule or '-'} (selector {d.selector or '-'}, executor {d.strategy or '-'})"),
        ("policy version", f"{d.policy_version}{' (canary)' if d.canary else ''}"),
        ("model", d.model_id or "-"),
        ("cost µUSD", f"{d.cost_micros} (expected {_fmt(d.expected_cost_micros)})"),
        ("latency ms", f"{d.latency_ms:.1f} (expected {_fmt(d.expected_latency_ms)})"),
        ("slo", f"{d.slo_ms} ms, {'-' if d.slo_met is None else 'met' if d.slo_met else 'missed'}"),
        ("cache hit", "yes" if d.cache_hit else "no"),
    ]
    for name, value in facts:
        print(f"  {name + ':':<22}{value}")
    candidates = d.detail.get("candidates", [])
    if candidates:
        print("  candidates:")
        rows = [
            (
                c["stage"],
                c["model_id"],
                "kept" if c["kept"] else c["drop"],
                c["max_cost_micros"],
                c["expected_latency_ms"],
                f"{c['accept_probability']:.2f}",
                c["reason"],
            )
            for c in candidates
        ]
        header = ("STAGE", "MODEL", "KEPT", "MAX µUSD", "EXP MS", "P(ACCEPT)", "REASON")
        print(_indent(format_table(header, rows)))
    attempts = d.detail.get("attempts", [])
    if attempts:
        print("  attempts:")
        rows = [
            (
                a["stage"],
                a["retry"],
                a["model_id"],
                a["outcome"],
                a["verdict"],
                f"{a['score']:.2f}",
                f"{a['input_tokens']}/{a['output_tokens']}",
                a["cost_micros"],
                f"{a['latency_ms']:.0f}",
                a["detail"],
            )
            for a in attempts
        ]
        header = ("STAGE", "TRY", "MODEL", "OUTCOME", "VERDICT", "SCORE", "TOKENS", "µUSD", "MS",
                  "DETAIL")  # fmt: skip
        print(_indent(format_table(header, rows)))
    for label in logged.labels:
        print(f"  label: {label.label:g} from {label.source} at {_time(label.recorded_unix)}")
    if "messages" in d.detail:
        for message in d.detail["messages"]:
            print(f"  {message['role']}: {message['content']}")
        if "answer" in d.detail:
            print(f"  answer: {d.detail['answer']}")


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _stats(args: argparse.Namespace) -> int:
    stats = route_stats(DecisionReader(args.db).decisions(_where(args)))
    header = ("RULE", "N", "OK", "DEGR", "FAIL", "EXP µUSD", "µUSD", "EXP MS", "MS", "P95 MS",
              "ESCAL", "SLO MET", "LABELS", "MEAN LABEL", "CALLED")  # fmt: skip
    rows = [
        (
            s.rule,
            s.decisions,
            s.answered,
            s.degraded,
            s.failed,
            _fmt(s.expected_cost_micros, 1),
            f"{s.cost_micros:.1f}",
            _fmt(s.expected_latency_ms, 1),
            f"{s.latency_ms:.1f}",
            f"{s.p95_latency_ms:.1f}",
            f"{s.escalation_rate:.1%}",
            "-" if s.slo_met_rate is None else f"{s.slo_met_rate:.1%}",
            s.labelled,
            _fmt(s.mean_label, 3),
            " ".join(f"{model} {share:.0%}" for model, share in s.called.items()) or "-",
        )
        for s in stats
    ]
    print(format_table(header, rows))
    return 0


def _export(args: argparse.Namespace) -> int:
    found = DecisionReader(args.db).decisions(_where(args))
    if args.format == "csv":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for logged in found:
                writer.writerow(csv_row(logged, time_text=_time(logged.decision.time_unix)))
        print(f"wrote {len(found)} decisions to {args.out}")
        return 0
    report = dataset_records(found)
    count = write_dataset(args.out, report.records)
    print(f"wrote {count} labelled records to {args.out} (of {len(found)} decisions)")
    for reason, n in sorted(report.skipped.items()):
        print(f"  skipped {n}: {reason}", file=sys.stderr)
    return 0
