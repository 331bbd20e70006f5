"""`switchyard datasets ...`: build, split and inspect labelled datasets (docs/datasets.md).

    switchyard datasets import gsm8k|mmlu|mt-bench|routerarena --out FILE [--data-dir DIR]
    switchyard datasets import csv LOGS.csv --out FILE --prompt-column C --model NAME=COLUMN ...
    switchyard datasets split FILE [--seed N] [--held-out 0.5] [--train-file A] [--held-out-file B]
    switchyard datasets stats FILE [--prices cost.json]

`--data-dir` defaults to $SWITCHYARD_DATA_DIR, else ../shared/data beside the repository.
Exit status: 0 done, 2 bad usage or a dataset that cannot be used (one line naming the
file, line and field).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from switchyard.cli.tables import format_table
from switchyard.learning.dataset import DatasetError, DatasetRecord, load_dataset, write_dataset
from switchyard.learning.importers import BUILT_IN, default_data_dir, import_csv
from switchyard.learning.importers.generic_csv import COST_UNITS
from switchyard.learning.prices import load_prices
from switchyard.learning.split import split_dataset
from switchyard.learning.stats import ALL_TASKS, DatasetStats, dataset_stats
from switchyard.tasks import TASK_TYPES

DEFAULT_SEED = 20240601


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    datasets = subparsers.add_parser("datasets", help="import, split and inspect datasets")
    commands = datasets.add_subparsers(dest="datasets_command", required=True)

    importing = commands.add_parser("import", help="convert a source into the dataset format")
    sources = importing.add_subparsers(dest="source", required=True)
    for name in BUILT_IN:
        source = sources.add_parser(name, help=f"the shared {name} data")
        source.add_argument("--data-dir", type=Path, default=default_data_dir())
        _out_flag(source)
        source.set_defaults(func=_guarded(_import_built_in))
    _csv_parser(sources)

    split = commands.add_parser("split", help="train / held-out files by a fixed seed")
    split.add_argument("file", type=Path)
    split.add_argument("--seed", type=int, default=DEFAULT_SEED)
    split.add_argument("--held-out", type=_share, default=0.5, help="share held out (0..1)")
    split.add_argument("--train-file", type=Path, help="default: FILE with .train.jsonl")
    split.add_argument("--held-out-file", type=Path, help="default: FILE with .held-out.jsonl")
    split.set_defaults(func=_guarded(_split))

    stats = commands.add_parser("stats", help="per-model quality, cost and counts")
    stats.add_argument("file", type=Path)
    stats.add_argument(
        "--prices", type=Path, help="cost.json-shaped prices for answers without a cost"
    )
    stats.set_defaults(func=_guarded(_stats))


def _out_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="dataset file (JSONL) to write")


def _csv_parser(sources: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sources.add_parser("csv", help="a team's own CSV: a prompt column, per-model columns")
    parser.add_argument("input", type=Path, help="the CSV file")
    _out_flag(parser)
    parser.add_argument("--prompt-column", required=True)
    parser.add_argument(
        "--model",
        action="append",
        type=_pair,
        required=True,
        metavar="NAME=COLUMN",
        help="a model and its correctness column (repeat per model)",
    )
    for flag, what in (
        ("--answer-column", "answer text"),
        ("--cost-column", "cost (see --cost-unit)"),
        ("--latency-column", "latency in ms"),
        ("--input-tokens-column", "input tokens"),
        ("--output-tokens-column", "output tokens"),
    ):
        parser.add_argument(
            flag, action="append", type=_pair, default=[], metavar="NAME=COLUMN", help=what
        )
    parser.add_argument("--cost-unit", choices=COST_UNITS, default="usd")
    parser.add_argument(
        "--judge-scale",
        type=_scale,
        metavar="LOW:HIGH",
        help="labels are judge scores on this scale (e.g. 1:10), mapped onto 0..1",
    )
    tasks = parser.add_mutually_exclusive_group()
    tasks.add_argument("--task-type", choices=sorted(TASK_TYPES), help="one for every row")
    tasks.add_argument("--task-type-column", help="a column holding each row's task type")
    for flag in ("--id-column", "--system-column", "--tenant-column", "--tier-column"):
        parser.add_argument(flag)
    parser.add_argument("--metadata-column", action="append", default=[], metavar="COLUMN")
    parser.set_defaults(func=_guarded(_import_csv))


def _pair(text: str) -> tuple[str, str]:
    name, sep, column = text.partition("=")
    if not sep or not name.strip() or not column:
        raise argparse.ArgumentTypeError(f"expected NAME=COLUMN, got {text!r}")
    return name.strip(), column


def _scale(text: str) -> tuple[float, float]:
    low, sep, high = text.partition(":")
    try:
        scale = (float(low), float(high))
    except ValueError:
        scale = None
    if not sep or scale is None or not scale[0] < scale[1]:
        raise argparse.ArgumentTypeError(f"expected LOW:HIGH with LOW < HIGH, got {text!r}")
    return scale


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share in 0..1, got {text!r}")
    return value


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A dataset or file the user can fix is one line on stderr and exit 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except DatasetError as exc:
            print(f"switchyard datasets: {exc}", file=sys.stderr)
        except OSError as exc:
            print(
                f"switchyard datasets: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr
            )
        return 2

    return run


def _write(out: Path, records: Sequence[DatasetRecord]) -> None:
    count = write_dataset(out, records)
    models = sorted({m for r in records for m in r.answers})
    print(f"wrote {count} records ({len(models)} models: {', '.join(models)}) to {out}")


def _import_built_in(args: argparse.Namespace) -> int:
    _write(args.out, BUILT_IN[args.source](args.data_dir))
    return 0


def _import_csv(args: argparse.Namespace) -> int:
    def mapping(pairs: list[tuple[str, str]], flag: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, column in pairs:
            if name in out:
                raise DatasetError(args.input, f"{flag} names {name!r} twice")
            out[name] = column
        return out

    records = import_csv(
        args.input,
        prompt_column=args.prompt_column,
        models=mapping(args.model, "--model"),
        answer_columns=mapping(args.answer_column, "--answer-column"),
        cost_columns=mapping(args.cost_column, "--cost-column"),
        latency_columns=mapping(args.latency_column, "--latency-column"),
        input_tokens_columns=mapping(args.input_tokens_column, "--input-tokens-column"),
        output_tokens_columns=mapping(args.output_tokens_column, "--output-tokens-column"),
        cost_unit=args.cost_unit,
        judge_scale=args.judge_scale,
        task_type=args.task_type,
        task_type_column=args.task_type_column,
        id_column=args.id_column,
        system_column=args.system_column,
        tenant_column=args.tenant_column,
        tier_column=args.tier_column,
        metadata_columns=args.metadata_column,
    )
    _write(args.out, records)
    return 0


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(f"{path.name.removesuffix('.jsonl')}.{suffix}.jsonl")


def _split(args: argparse.Namespace) -> int:
    records = load_dataset(args.file)
    parts = split_dataset(records, seed=args.seed, held_out=args.held_out)
    train_file = args.train_file or _sibling(args.file, "train")
    held_out_file = args.held_out_file or _sibling(args.file, "held-out")
    if len({args.file.resolve(), train_file.resolve(), held_out_file.resolve()}) < 3:
        raise DatasetError(args.file, "the input, train and held-out files must all differ")
    write_dataset(train_file, parts.train)
    write_dataset(held_out_file, parts.held_out)
    for side, part in (("train", parts.train), ("held-out", parts.held_out)):
        if not part:
            print(f"switchyard datasets: warning: the {side} side is empty", file=sys.stderr)
    print(
        f"seed {args.seed}: {len(parts.train)} train -> {train_file}, "
        f"{len(parts.held_out)} held out -> {held_out_file}"
    )
    return 0


def _stats(args: argparse.Namespace) -> int:
    prices = load_prices(args.prices) if args.prices else None
    print(render_stats(str(args.file), dataset_stats(load_dataset(args.file), prices=prices)))
    return 0


def render_stats(name: str, stats: DatasetStats) -> str:
    tasks = ", ".join(f"{task} {n}" for task, n in stats.task_types.items())
    header = ("MODEL", "TASK", "N", "QUALITY", "ACCEPT", "µUSD/REQ", "USD TOTAL", "P50 MS")
    rows: list[tuple[Any, ...]] = []
    for row in stats.rows:
        partial = f" ({row.costed}/{row.answers})" if 0 < row.costed < row.answers else ""
        rows.append(
            (
                row.model if row.task_type == ALL_TASKS else "",
                row.task_type or "all",
                row.answers,
                f"{row.quality_mean:.3f}",
                f"{row.acceptable_share:.1%}",
                "-" if row.cost_mean_micros is None else f"{row.cost_mean_micros:.1f}{partial}",
                "-"
                if row.cost_total_micros is None
                else f"{row.cost_total_micros / 1_000_000:.6f}",
                "-" if row.latency_p50_ms is None else f"{row.latency_p50_ms:.0f}",
            )
        )
    return (
        f"{name}: {stats.records} records, {len(stats.models)} models; task types: {tasks}\n"
        + format_table(header, rows)
    )
