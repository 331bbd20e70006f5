"""`switchyard route` and `switchyard plan`: one request to a running router.

    switchyard route "What is a B-tree?" --task chat --tier pro --budget 5000 [--json]
    switchyard plan  "What is a B-tree?" --task math            # the decision, no model call
    echo "long text" | switchyard route - --task summarization

Without --token or $SWITCHYARD_TOKEN it sends `make run`'s dev token (tenant demo) to a
router on this machine; --tls-ca (and --tls-cert/--tls-key) for a TLS router.

Exit status: 0 answered, 1 refused (invalid request, unauthenticated, budget, no route),
2 bad usage, 3 router unreachable.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from google.protobuf import json_format
from google.protobuf.message import Message

from switchyard.cli.connection import add_tls_flags, client_config, router_token, tls_from_args
from switchyard.cli.output import ROUTER_HINTS, report_call_error
from switchyard.cli.tables import format_table
from switchyard.client import (
    DEFAULT_ROUTER,
    DEV_TENANT_TOKEN,
    CallError,
    RouterClient,
    route_request,
)
from switchyard.router.v1 import router_pb2
from switchyard.tasks import TASK_TYPES

RESPONSE_FORMATS = {
    "text": router_pb2.RESPONSE_FORMAT_TEXT,
    "json_object": router_pb2.RESPONSE_FORMAT_JSON_OBJECT,
}

ATTEMPT_COLUMNS = (
    *("STAGE", "RETRY", "MODEL", "OUTCOME", "VERDICT", "SCORE", "MS", "IN", "OUT", "µUSD"),
    *("BREAKER", "DETAIL"),
)
# µUSD is one attempt's worst case; STAGE ACC. the online P(stage accepts), SEEN its
# sample size; P95 MS the latency measured here.
CANDIDATE_COLUMNS = (
    *("STAGE", "MODEL", "KEPT", "P(ACCEPT)", "SOURCE", "STAGE ACC.", "SEEN", "SCORE"),
    *("NEEDS", "µUSD", "MS", "P95 MS", "REASON"),
)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for name, help_text, func in (
        ("route", "send one request to the router and print the answer and trace", _route),
        ("plan", "show the decision the router would take, without calling a model", _plan),
    ):
        parser = subparsers.add_parser(name, help=help_text)
        _request_flags(parser)
        parser.set_defaults(func=func)


def _metadata_entry(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError("expected KEY=VALUE")
    return key, value


def _request_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", help="the user message ('-' reads it from stdin)")
    parser.add_argument("--task", default="", choices=("", *sorted(TASK_TYPES)), help="task type")
    parser.add_argument("--tier", default="", help="customer tier (free, pro, enterprise, ...)")
    parser.add_argument("--tenant", default="")
    parser.add_argument("--budget", type=int, default=0, help="micro-USD; 0: the policy's")
    parser.add_argument("--slo-ms", type=int, default=0, help="latency SLO; 0: the policy's")
    parser.add_argument("--max-tokens", type=int, default=0, help="max output tokens")
    parser.add_argument("--system", default="", help="a system message before the prompt")
    parser.add_argument("--format", choices=sorted(RESPONSE_FORMATS), help="response format")
    parser.add_argument(
        "--metadata", type=_metadata_entry, action="append", default=[], metavar="KEY=VALUE"
    )
    parser.add_argument("--idempotency-key", default="")
    parser.add_argument("--json", action="store_true", help="print the response as JSON")
    parser.add_argument(
        "--router",
        default=os.environ.get("SWITCHYARD_ROUTER", DEFAULT_ROUTER),
        metavar="HOST:PORT",
        help=f"router address ($SWITCHYARD_ROUTER, default {DEFAULT_ROUTER})",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("SWITCHYARD_TOKEN"),
        help="bearer token ($SWITCHYARD_TOKEN; default: make run's dev token "
        f"{DEV_TENANT_TOKEN!r} for a router on this machine or over TLS)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="deadline, seconds")
    add_tls_flags(parser)


def _request(args: argparse.Namespace) -> router_pb2.RouteRequest:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    return route_request(
        prompt,
        task_type=args.task,
        tier=args.tier,
        tenant=args.tenant,
        budget_micros=args.budget,
        latency_slo_ms=args.slo_ms,
        max_output_tokens=args.max_tokens,
        system=args.system,
        response_format=RESPONSE_FORMATS.get(args.format, router_pb2.RESPONSE_FORMAT_UNSPECIFIED),
        metadata=dict(args.metadata),
        idempotency_key=args.idempotency_key,
    )


def _call(
    args: argparse.Namespace,
    send: Callable[[RouterClient, router_pb2.RouteRequest], Message],
    render: Callable[[Message], str],
) -> int:
    tls = tls_from_args(args)
    config = client_config(
        address=args.router,
        token=router_token(args.token, address=args.router, tls=tls),
        tls=tls,
        timeout_s=args.timeout,
    )
    try:
        with RouterClient(config) as router:
            response = send(router, _request(args))
    except CallError as error:
        return report_call_error(error, service="router", address=args.router, hints=ROUTER_HINTS)
    if args.json:
        print(
            json_format.MessageToJson(
                response,
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
                indent=2,
            )
        )
    else:
        print(render(response))
    return 0


def _route(args: argparse.Namespace) -> int:
    return _call(args, lambda router, request: router.route(request), format_route)  # type: ignore[arg-type]


def _plan(args: argparse.Namespace) -> int:
    return _call(args, lambda router, request: router.plan(request), format_plan)  # type: ignore[arg-type]


def _enum(name: str, prefix: str) -> str:
    return name.removeprefix(prefix).lower()


def _usd(micros: int) -> str:
    return f"{micros} µUSD (${micros / 1e6:.6f})"


def format_route(reply: router_pb2.RouteResponse) -> str:
    flags = [
        flag
        for flag, on in (
            ("degraded", reply.degraded),
            ("cache hit", reply.cache_hit),
            (f"review ticket {reply.review_ticket_id}", bool(reply.review_ticket_id)),
        )
        if on
    ]
    lines = [
        reply.answer.rstrip() or "(no answer)",
        "",
        f"model     {reply.model_id or '-'}" + (f"  [{', '.join(flags)}]" if flags else ""),
        f"route     rule {reply.rule}, strategy {reply.strategy}, "
        f"policy v{reply.policy_version}, {reply.escalations} escalation(s)",
        f"cost      {_usd(reply.total_cost_micros)}",
        f"latency   {reply.total_latency_ms} ms",
        f"tokens    {reply.input_tokens} in, {reply.output_tokens} out"
        + (f", finish {reply.finish_reason}" if reply.finish_reason else ""),
    ]
    if reply.request_id:
        lines.append(f"request   {reply.request_id}")
    lines += ["", format_attempts(reply.attempts)]
    return "\n".join(lines)


def format_attempts(attempts: Sequence[router_pb2.Attempt]) -> str:
    if not attempts:
        return "No attempts (answered without calling a model)."
    return format_table(
        ATTEMPT_COLUMNS,
        (
            (
                a.stage,
                a.retry,
                a.model_id,
                _enum(router_pb2.AttemptOutcome.Name(a.outcome), "ATTEMPT_OUTCOME_"),
                _enum(router_pb2.AttemptVerdict.Name(a.verdict), "ATTEMPT_VERDICT_"),
                f"{a.verifier_score:.2f}",
                a.latency_ms,
                a.input_tokens,
                a.output_tokens,
                a.cost_micros,
                _enum(router_pb2.BreakerState.Name(a.breaker_state), "BREAKER_STATE_"),
                a.detail or "-",
            )
            for a in attempts
        ),
    )


def format_plan(plan: router_pb2.PlanResponse) -> str:
    slo = (
        f"{plan.latency_slo_ms} ms ({'met' if plan.meets_slo else 'missed'})"
        if plan.latency_slo_ms
        else "none"
    )
    lines = [
        f"rule      {plan.rule}, strategy {plan.strategy}, selector {plan.selector or '-'}, "
        f"policy v{plan.policy_version}",
        f"expected  {_usd(plan.expected_cost_micros)}, {plan.expected_latency_ms} ms, "
        f"quality {plan.expected_quality:.3f}"
        + ("" if plan.quality_floor_met else " (below the rule's quality floor)"),
        f"slo       {slo}",
        f"prompt    ~{plan.estimated_prompt_tokens} tokens",
        "",
        format_table(
            CANDIDATE_COLUMNS,
            (
                (
                    c.stage,
                    c.model_id,
                    "yes" if c.kept else "no",
                    f"{c.accept_probability:.3f}",
                    c.quality_source or "-",
                    f"{c.stage_acceptance:.3f}",
                    c.outcomes_seen,
                    f"{c.score:.3f}" if plan.selector == "score" else "-",
                    f"{c.min_score:.3f}" if c.min_score else "-",
                    c.expected_cost_micros,
                    c.expected_latency_ms,
                    c.measured_latency_p95_ms or "-",
                    c.reason or "-",
                )
                for c in plan.candidates
            ),
        ),
    ]
    if plan.cascades:
        lines += [
            "",
            "Cascades weighed (auto):",
            format_table(
                ("CHOSEN", "MODELS", "E[µUSD]", "E[MS]", "E[QUALITY]", "REASON"),
                (
                    (
                        "*" if c.chosen else "",
                        " → ".join(c.model_ids),
                        c.expected_cost_micros,
                        c.expected_latency_ms,
                        f"{c.expected_quality:.3f}",
                        c.reason,
                    )
                    for c in plan.cascades
                ),
            ),
        ]
    return "\n".join(lines)
