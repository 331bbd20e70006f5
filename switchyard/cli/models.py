"""`switchyard models ...`: the operator's view of the registry.

    switchyard models apply -f fleet.yaml [--dry-run] [--prune]
    switchyard models list [--filter 'labels.tier=small AND health=SERVING']
    switchyard models get small [-o yaml|json]
    switchyard models delete small [--etag E]
    switchyard models history [small] [--limit 20]
    switchyard models health [small --set DOWN --reason "..."]

Global flags: --registry host:port (127.0.0.1:50052), --token (or SWITCHYARD_TOKEN),
--tls-ca / --tls-cert / --tls-key (or SWITCHYARD_TLS_CA, ...) for a TLS registry.
Exit status: 0 done, 1 refused (validation, conflict, auth, not found), 2 bad usage
or an unreadable file, 3 registry unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
import yaml
from google.protobuf import json_format

from switchyard.cli.connection import add_tls_flags, client_config, tls_from_args
from switchyard.cli.output import report_call_error
from switchyard.cli.tables import format_table
from switchyard.client import ClientConfig, error_from_rpc, open_aio_channel
from switchyard.fleet import (
    CAPABILITIES,
    FleetApplyResult,
    FleetError,
    apply_fleet,
    list_all_models,
    load_fleet,
    model_to_fleet_entry,
)
from switchyard.registry.v1 import registry_pb2, registry_pb2_grpc

DEFAULT_REGISTRY = "127.0.0.1:50052"
TIMEOUT_S = 10.0
_CAPABILITY_NAMES = {number: name for name, number in CAPABILITIES.items()}

Stub = registry_pb2_grpc.RegistryServiceStub
Command = Callable[[Stub, argparse.Namespace], Awaitable[int]]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    models = subparsers.add_parser("models", help="manage the model fleet in the registry")
    _global_flags(models, suppress=False)
    commands = models.add_subparsers(dest="models_command", required=True)

    def command(name: str, help_text: str, run: Command) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text)
        _global_flags(parser, suppress=True)
        parser.set_defaults(func=lambda args: _run(run, args))
        return parser

    apply = command("apply", "make the registry match a fleet file (diff, then apply)", _apply)
    apply.add_argument("-f", "--file", required=True, help="fleet YAML file")
    apply.add_argument("--dry-run", action="store_true", help="show the diff, change nothing")
    apply.add_argument("--prune", action="store_true", help="delete models not in the file")

    listing = command("list", "list models as a table", _list)
    listing.add_argument("--filter", default="", help="e.g. 'labels.tier=small AND health=SERVING'")

    get = command("get", "show one model", _get)
    get.add_argument("model", help="model id or models/<id>")
    get.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")

    delete = command("delete", "delete a model", _delete)
    delete.add_argument("model")
    delete.add_argument("--etag", default="", help="only delete if the etag still matches")

    history = command("history", "who changed what, newest first", _history)
    history.add_argument("model", nargs="?", default="", help="one model (default: whole fleet)")
    history.add_argument("--limit", type=int, default=20)

    health = command("health", "show health, or report it with --set", _health)
    health.add_argument("model", nargs="?", default="")
    health.add_argument("--set", dest="state", choices=("SERVING", "DEGRADED", "DOWN", "UNKNOWN"))
    health.add_argument("--reason", default="")


def _global_flags(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # On the subcommands the flags default to SUPPRESS so they do not hide a value
    # given before the subcommand (`switchyard models --registry X list`).
    registry_default = argparse.SUPPRESS if suppress else DEFAULT_REGISTRY
    token_default = argparse.SUPPRESS if suppress else os.environ.get("SWITCHYARD_TOKEN", "")
    parser.add_argument("--registry", default=registry_default, help="host:port of the registry")
    parser.add_argument("--token", default=token_default, help="bearer token ($SWITCHYARD_TOKEN)")
    add_tls_flags(parser, suppress=suppress)


def registry_client_config(args: argparse.Namespace) -> ClientConfig:
    """The registry client settings from the global flags (also used by `profile`)."""
    # The client adds the token, the actor and the deadline to every call.
    return client_config(
        address=args.registry,
        token=args.token,
        tls=tls_from_args(args),
        timeout_s=TIMEOUT_S,
        metadata=(("x-switchyard-actor", _whoami()),),
    )


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def _name(model: str) -> str:
    return model if model.startswith("models/") else f"models/{model}"


def _run(run: Command, args: argparse.Namespace) -> int:
    async def main() -> int:
        async with open_aio_channel(registry_client_config(args)) as channel:
            try:
                return await run(Stub(channel), args)
            except grpc.RpcError as exc:
                return report_call_error(
                    error_from_rpc(exc), service="registry", address=args.registry
                )

    try:
        return asyncio.run(main())
    except FleetError as exc:
        print(f"error: {exc.source}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2


async def _apply(stub: Stub, args: argparse.Namespace) -> int:
    models = load_fleet(args.file)
    result = await apply_fleet(stub, models, dry_run=args.dry_run, prune=args.prune)
    print(format_plan(result))
    return 0 if result.ok else 1


def format_plan(result: FleetApplyResult) -> str:
    """The diff, then what happened: applied, rejected (nothing written) or conflicted."""
    symbols = {"create": "+", "update": "~", "delete": "-", "unchanged": "="}
    lines = []
    for change in result.plan:
        fields = f"  ({', '.join(change.changed_fields)})" if change.action == "update" else ""
        lines.append(f"{symbols[change.action]} {change.model_id:<24} {change.action}{fields}")
    pending = len(result.pending)
    if result.rejected:
        lines.append("Nothing applied: the registry rejected these changes:")
        for model_id, violations in result.rejected.items():
            lines.extend(f"  {model_id}: {v.field}: {v.description}" for v in violations)
    elif not pending:
        lines.append("Nothing to change: the registry already matches the file.")
    elif result.dry_run:
        lines.append(f"Dry run: {pending} change(s) not applied.")
    else:
        lines.append(f"Applied {len(result.applied)} of {pending} change(s).")
    for model_id, detail in result.conflicts.items():
        lines.append(f"  CONFLICT {model_id}: {detail}")
    if result.conflicts:
        lines.append("Conflicting models were left as the other writer left them; re-run apply.")
    return "\n".join(lines)


async def _list(stub: Stub, args: argparse.Namespace) -> int:
    models = await list_all_models(stub, filter=args.filter)
    print(format_models(models))
    return 0


def _dollars(micros: int) -> str:
    return f"${micros / 1e6:,.2f}"


def _health_name(state: int) -> str:
    return registry_pb2.HealthState.Name(state).removeprefix("HEALTH_STATE_")


def format_models(models: Sequence[registry_pb2.Model]) -> str:
    header = ("ID", "KIND", "HEALTH", "IN/MTOK", "OUT/MTOK", "CONTEXT", "CAPABILITIES", "REV")
    rows = [
        (
            m.name.removeprefix("models/"),
            registry_pb2.ProviderKind.Name(m.provider.kind).removeprefix("PROVIDER_KIND_").lower(),
            _health_name(m.health.state),
            _dollars(m.pricing.input_micros_per_mtok),
            _dollars(m.pricing.output_micros_per_mtok),
            str(m.context_window),
            ",".join(_CAPABILITY_NAMES.get(c, str(c)) for c in m.capabilities) or "-",
            str(m.revision),
        )
        for m in models
    ]
    return format_table(header, rows) if rows else "No models."


async def _get(stub: Stub, args: argparse.Namespace) -> int:
    response = await stub.GetModel(registry_pb2.GetModelRequest(name=_name(args.model)))
    model = response.model
    if args.output == "json":
        print(json_format.MessageToJson(model, indent=2))
        return 0
    entry: dict[str, Any] = model_to_fleet_entry(model)
    entry["status"] = {
        "health": _health_name(model.health.state),
        "health_reason": model.health.reason,
        "health_source": model.health.source,
        "etag": model.etag,
        "revision": model.revision,
        "updated": _time(model.update_time),
    }
    print(yaml.safe_dump([entry], sort_keys=False).rstrip())
    return 0


async def _delete(stub: Stub, args: argparse.Namespace) -> int:
    name = _name(args.model)
    etag = args.etag
    if not etag:
        # Delete what we saw, not whatever a concurrent writer put there meanwhile.
        current = await stub.GetModel(registry_pb2.GetModelRequest(name=name))
        etag = current.model.etag
    await stub.DeleteModel(registry_pb2.DeleteModelRequest(name=name, etag=etag))
    print(f"Deleted {name}.")
    return 0


def _time(stamp: Any) -> str:
    moment = stamp.ToDatetime(tzinfo=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


async def _history(stub: Stub, args: argparse.Namespace) -> int:
    name = _name(args.model) if args.model else ""
    response = await stub.ListModelRevisions(
        registry_pb2.ListModelRevisionsRequest(name=name, page_size=max(1, args.limit)),
    )
    header = ("REV", "TIME (UTC)", "MODEL", "CHANGE", "ACTOR", "FIELDS")
    rows = [
        (
            str(r.revision),
            _time(r.change_time),
            r.name.removeprefix("models/"),
            registry_pb2.ChangeKind.Name(r.kind).removeprefix("CHANGE_KIND_").lower(),
            r.actor,
            "(new profile)"
            if r.kind == registry_pb2.CHANGE_KIND_CREATED
            else ", ".join(r.changed_fields) or "-",
        )
        for r in response.revisions
    ]
    print(format_table(header, rows) if rows else "No changes recorded.")
    return 0


async def _health(stub: Stub, args: argparse.Namespace) -> int:
    if args.state:
        if not args.model:
            print("error: --set needs a model", file=sys.stderr)
            return 2
        health = registry_pb2.Health(
            state=registry_pb2.HealthState.Value(f"HEALTH_STATE_{args.state}"),
            reason=args.reason,
            source=f"operator/{_whoami()}",
        )
        await stub.ReportHealth(
            registry_pb2.ReportHealthRequest(name=_name(args.model), health=health),
        )
    if args.model:
        response = await stub.GetModel(registry_pb2.GetModelRequest(name=_name(args.model)))
        models = [response.model]
    else:
        models = await list_all_models(stub)
    header = ("ID", "HEALTH", "SINCE (UTC)", "SOURCE", "REASON")
    rows = [
        (
            m.name.removeprefix("models/"),
            _health_name(m.health.state),
            _time(m.health.update_time),
            m.health.source,
            m.health.reason or "-",
        )
        for m in models
    ]
    print(format_table(header, rows) if rows else "No models.")
    return 0
