"""`switchyard profile`: measure models on a labelled dataset, optionally write the
figures into their registry profiles (docs/profiling.md).

    switchyard profile --dataset FILE --models small,large [--dataset-model small=NAME]
                       [--offline] [--write [--partial]] [--concurrency 8] [--policy FILE]

Exit status: 0 done; 1 refused (registry refused the write: permission, conflict,
validation; or a model with no answered call under --write); 2 bad input (dataset,
flags, unknown model); 3 registry unreachable; 130 interrupted (nothing written).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

from services.router.fleet import ModelProfile, profile_from_proto
from services.router.providers import PROVIDER_KINDS
from switchyard.cli.connection import add_tls_flags
from switchyard.cli.models import DEFAULT_REGISTRY, registry_client_config
from switchyard.cli.profile_output import ProgressDisplay, format_report, report_json
from switchyard.fleet import list_all_models
from switchyard.learning.dataset import DatasetError, DatasetRecord, dataset_models, load_dataset
from switchyard.learning.profile_live import LiveSettings, LiveTarget, measure_live
from switchyard.learning.profile_write import (
    Provenance,
    WriteResult,
    check_write_access,
    profile_patch,
    write_profiles,
)
from switchyard.learning.profiling import (
    AnswerJudge,
    ModelSummary,
    Observation,
    measure_offline,
    summarize,
)
from switchyard.policy import Policy, parse_policy
from switchyard.registry.v1 import registry_pb2, registry_pb2_grpc
from switchyard.runtime.errors import InvalidArgument
from switchyard.runtime.tls import open_upstream_channel

TIMEOUT_S = 10.0
ADMIN_SCOPE_HINT = (
    "--write needs a registry token with admin scope: pass it with --token or SWITCHYARD_TOKEN"
)


class BadInput(Exception):
    """Input the user can fix (exit 2): one line naming the file, line and field."""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "profile", help="measure models on a labelled dataset; --write updates the registry"
    )
    parser.add_argument("--dataset", required=True, type=Path, help="labelled dataset (JSONL)")
    parser.add_argument("--models", required=True, help="registry model ids, comma-separated")
    parser.add_argument(
        "--dataset-model",
        action="append",
        default=[],
        metavar="MODEL=DATASET_MODEL",
        help="whose labels a model's answers get (default: the dataset model of the same name)",
    )
    parser.add_argument(
        "--offline", action="store_true", help="use the recorded fields; call no model"
    )
    parser.add_argument("--write", action="store_true", help="update each model's profile")
    parser.add_argument(
        "--partial",
        action="store_true",
        help="with --write: write the models that were measured even if others were not",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight (8)")
    parser.add_argument("--timeout-s", type=float, default=60.0, help="per call (60)")
    parser.add_argument(
        "--max-tokens", type=int, default=0, help="per call (default: the model's maximum)"
    )
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument(
        "--policy", type=Path, help="judge unlabelled answers with this policy's checks"
    )
    parser.add_argument(
        "--dataset-name", default="", help="name recorded in the registry (default: file stem)"
    )
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--registry", default=DEFAULT_REGISTRY, help="host:port of the registry")
    parser.add_argument(
        "--token", default=os.environ.get("SWITCHYARD_TOKEN", ""), help="($SWITCHYARD_TOKEN)"
    )
    add_tls_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_profile(args))
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: nothing was written to the registry", file=sys.stderr)
        return 130


class _Interrupt:
    """Ctrl-C cancels the run and is remembered. The flag is what keeps a stopped run
    from writing: asyncio (3.11) can lose a cancellation that lands just as a call
    completes, and the run would then carry on to the write."""

    def __init__(self) -> None:
        self.seen = False
        self._task = asyncio.current_task()
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach the main thread only (a caller running us in a thread)
        # A parent may have left SIGINT blocked, which its children inherit.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._on_sigint)

    def _on_sigint(self) -> None:
        self.seen = True
        if self._task is not None:
            self._task.cancel()

    def check(self) -> None:
        if self.seen:
            raise KeyboardInterrupt


# -- inputs --------------------------------------------------------------------------


def parse_models(text: str) -> list[str]:
    models = [m.strip().removeprefix("models/") for m in text.split(",") if m.strip()]
    if not models:
        raise BadInput("--models: name at least one registry model")
    duplicates = sorted({m for m in models if models.count(m) > 1})
    if duplicates:
        raise BadInput(f"--models: {', '.join(duplicates)} named twice")
    return models


def dataset_mapping(
    models: Sequence[str],
    pairs: Sequence[str],
    available: Sequence[str],
    *,
    path: Path,
    offline: bool,
) -> dict[str, str | None]:
    """Registry model -> dataset model whose labels apply (None: verifier only)."""
    known = ", ".join(available)
    mapping: dict[str, str | None] = {}
    for pair in pairs:
        model, sep, dataset_model = pair.partition("=")
        model, dataset_model = model.strip().removeprefix("models/"), dataset_model.strip()
        if not sep or not model or not dataset_model:
            raise BadInput(f"--dataset-model {pair!r}: expected MODEL=DATASET_MODEL")
        if model not in models:
            raise BadInput(f"--dataset-model {pair}: {model!r} is not one of --models")
        if dataset_model not in available:
            raise BadInput(
                f"{path}: --dataset-model {pair}: the dataset has no model "
                f"{dataset_model!r} (it has: {known})"
            )
        mapping[model] = dataset_model
    for model in models:
        if model not in mapping:
            mapping[model] = model if model in available else None
        if offline and mapping[model] is None:
            raise BadInput(
                f"{path}: --models: the dataset has no answers from {model!r} (it has: "
                f"{known}); name the dataset model with --dataset-model {model}=NAME"
            )
    return mapping


def load_policy(path: Path | None) -> Policy | None:
    if path is None:
        return None
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        return parse_policy(source)
    except InvalidArgument as exc:
        first = exc.violations[0]
        raise BadInput(f"{path}: {first.field}: {first.description}") from exc


def live_settings(args: argparse.Namespace) -> LiveSettings:
    try:
        return LiveSettings(
            concurrency=args.concurrency,
            timeout_s=args.timeout_s,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
        )
    except ValueError as exc:
        raise BadInput(f"flags: {exc}") from exc


def check_callable(profile: ModelProfile, environ: Mapping[str, str]) -> None:
    """Refuse before sending anything to a model the adapters cannot reach."""
    name = f"models/{profile.model_id}"
    if profile.provider_kind not in PROVIDER_KINDS:
        raise BadInput(f"{name}: provider.kind: no adapter speaks {profile.provider_kind!r}")
    if profile.credential_env and not environ.get(profile.credential_env):
        raise BadInput(
            f"{name}: provider.credential_env: ${profile.credential_env} is not set "
            "(the API key this model needs)"
        )


# -- the run -------------------------------------------------------------------------


@dataclass
class _Registry:
    stub: registry_pb2_grpc.RegistryServiceStub
    metadata: Sequence[tuple[str, str]]
    address: str


async def _fetch_models(
    registry: _Registry, models: Sequence[str]
) -> dict[str, registry_pb2.Model]:
    listed = await list_all_models(registry.stub, metadata=registry.metadata)
    by_id = {m.name.removeprefix("models/"): m for m in listed}
    unknown = [m for m in models if m not in by_id]
    if unknown:
        raise BadInput(
            f"--models: not in the registry at {registry.address}: {', '.join(unknown)} "
            f"(it has: {', '.join(sorted(by_id)) or 'no models'})"
        )
    return {m: by_id[m] for m in models}


async def _profile(args: argparse.Namespace) -> int:
    interrupt = _Interrupt()
    models = parse_models(args.models)
    settings = live_settings(args)
    if args.partial and not args.write:
        raise BadInput("--partial only makes sense with --write")
    try:
        records = load_dataset(args.dataset)
    except DatasetError as exc:
        raise BadInput(str(exc)) from exc
    mapping = dataset_mapping(
        models,
        args.dataset_model,
        dataset_models(records),
        path=args.dataset,
        offline=args.offline,
    )
    judge = AnswerJudge(policy=load_policy(args.policy))
    config = registry_client_config(args)
    async with open_upstream_channel(config.address, config.tls, token=config.token) as channel:
        registry = _Registry(
            registry_pb2_grpc.RegistryServiceStub(channel),
            config.call_metadata(),
            args.registry,
        )
        try:
            return await _measure_and_write(
                args, registry, records, models, mapping, judge, settings, interrupt
            )
        except grpc.aio.AioRpcError as exc:
            return _rpc_error(exc, args)


async def _measure_and_write(
    args: argparse.Namespace,
    registry: _Registry,
    records: Sequence[DatasetRecord],
    models: Sequence[str],
    mapping: Mapping[str, str | None],
    judge: AnswerJudge,
    settings: LiveSettings,
    interrupt: _Interrupt,
) -> int:
    current = await _fetch_models(registry, models)
    profiles = {m: profile_from_proto(current[m]) for m in models}
    if not args.offline:
        for profile in profiles.values():
            check_callable(profile, os.environ)
    if args.write:
        try:
            await check_write_access(registry.stub, current[models[0]], metadata=registry.metadata)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.PERMISSION_DENIED:
                raise
            print(
                f"error: PERMISSION_DENIED: {exc.details()}. {ADMIN_SCOPE_HINT}. "
                "Nothing was measured or written.",
                file=sys.stderr,
            )
            return 1
    measured_at = dt.datetime.now(dt.UTC)
    observations = await _observe(args, records, profiles, mapping, judge, settings)
    interrupt.check()
    summaries = summarize(observations, models, mapping)
    provenance = Provenance(
        dataset=args.dataset_name or args.dataset.stem,
        measured_at=measured_at,
        mode="offline" if args.offline else "live",
    )
    for summary in summaries:
        if not summary.measured:
            print(
                f"warning: models/{summary.model_id} answered no call "
                f"(first failure: {summary.first_failure or 'none recorded'})",
                file=sys.stderr,
            )
    if args.output == "json":
        print(report_json(summaries, provenance, records=len(records)))
    else:
        print(format_report(summaries, provenance, records=len(records)))
    if not args.write:
        return 0
    interrupt.check()
    return await _write(args, registry, current, summaries, provenance)


async def _observe(
    args: argparse.Namespace,
    records: Sequence[DatasetRecord],
    profiles: Mapping[str, ModelProfile],
    mapping: Mapping[str, str | None],
    judge: AnswerJudge,
    settings: LiveSettings,
) -> list[Observation]:
    """Every model's observations: from the recorded fields, or by calling it."""
    if args.offline:
        return [
            observation
            for model, profile in profiles.items()
            for observation in measure_offline(
                records,
                model_id=model,
                dataset_model=mapping[model] or model,
                input_micros_per_mtok=profile.input_micros_per_mtok,
                output_micros_per_mtok=profile.output_micros_per_mtok,
                judge=judge,
            )
        ]
    targets = [LiveTarget(profile, mapping[model]) for model, profile in profiles.items()]
    with ProgressDisplay(list(profiles), len(records), enabled=not args.no_progress) as progress:
        return await measure_live(
            records,
            targets,
            judge=judge,
            settings=settings,
            environ=os.environ,
            on_observation=progress.advance,
        )


async def _write(
    args: argparse.Namespace,
    registry: _Registry,
    current: Mapping[str, registry_pb2.Model],
    summaries: Sequence[ModelSummary],
    provenance: Provenance,
) -> int:
    unmeasured = [s.model_id for s in summaries if not s.measured]
    if unmeasured and not args.partial:
        print(
            f"error: no answered call from {', '.join(unmeasured)}: the run did not succeed, "
            "so nothing was written (--partial writes the models that were measured)",
            file=sys.stderr,
        )
        return 1
    updates = [profile_patch(current[s.model_id], s, provenance) for s in summaries if s.measured]
    result = await write_profiles(registry.stub, updates, metadata=registry.metadata)
    _print_write(result, unmeasured)
    # With --partial, skipping the unmeasured models is what was asked for.
    return 0 if result.ok else 1


def _print_write(result: WriteResult, skipped: Sequence[str]) -> None:
    for model, violations in result.rejected.items():
        for v in violations:
            print(f"error: models/{model}: {v.field}: {v.description}", file=sys.stderr)
    if result.rejected:
        print("Nothing written: the registry refused the update(s) above.", file=sys.stderr)
    for model, detail in result.conflicts.items():
        print(
            f"CONFLICT models/{model}: changed since the run read it ({detail}); not written. "
            "Re-run to measure against the new profile.",
            file=sys.stderr,
        )
    if result.written:
        print(f"Wrote {', '.join(f'models/{m}' for m in result.written)} to the registry.")
    if skipped:
        print(f"Skipped (no answered call): {', '.join(skipped)}.", file=sys.stderr)


def _rpc_error(exc: grpc.aio.AioRpcError, args: argparse.Namespace) -> int:
    code = exc.code()
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        print(
            f"error: cannot reach the registry at {args.registry}: {exc.details()}",
            file=sys.stderr,
        )
        return 3
    if code == grpc.StatusCode.PERMISSION_DENIED:
        print(f"error: PERMISSION_DENIED: {exc.details()}. {ADMIN_SCOPE_HINT}.", file=sys.stderr)
        return 1
    if code == grpc.StatusCode.UNAUTHENTICATED:
        scope = "admin" if args.write else "read"
        print(
            f"error: UNAUTHENTICATED: {exc.details()} (this needs a registry token with "
            f"{scope} scope: --token or SWITCHYARD_TOKEN)",
            file=sys.stderr,
        )
        return 1
    print(f"error: {code.name}: {exc.details()}", file=sys.stderr)
    return 1
