"""`make bench-quality`: held-out routing quality on the shared datasets (docs/evaluation.md).

    python -m bench.quality [--data-dir ../shared/data] [--out-dir bench/results]
                            [--datasets gsm8k,mmlu,mt-bench,routerarena] [--points N]
                            [--dataset FILE ... [--fleet FILE] [--map FLEET=DATASET ...]]

Imports GSM8K, MMLU, MT Bench and RouterArena with the dataset importers, splits each
by a fixed seed, lets every strategy fit on the train half, and prints one table of the
held-out figures with the references (each model, oracle, random), then checks that
they reproduce the verifier's figures and the datasets' published accuracies. Writes
the table, a JSON report and a PNG to bench/results/quality-<time>.*; exits 1 when a
reproduction check fails.

`--dataset FILE` (the documented dataset format, any number of models) runs the same
held-out bench on a team's own data instead, named by the file's stem; its models are
priced and timed by `--fleet` (a fleet file; a fleet model whose id is a dataset
model's name stands for it, or `--map FLEET=DATASET`). With more than two models the
rows are the router's `score` and `auto` selectors over every model (bench/quality_every.py).

A strategy is a small object (`bench/quality_strategies.py`): `fit` on train records,
`evaluate` on held-out ones into a `StrategyResult` row, `skip_reason` when the data
cannot serve it. A learned selector becomes a row by adding one object to `strategies()`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import quality_targets
from bench.quality_common import Roles
from bench.quality_strategies import ScorerCascade, strategies
from switchyard.checks import training
from switchyard.checks.scorer import default_scorer
from switchyard.cli.tables import format_table
from switchyard.learning import metrics, plot, report
from switchyard.learning.dataset import DatasetRecord, load_dataset
from switchyard.learning.evaluate import (
    EvaluationError,
    StrategyResult,
    build_setup,
    finalize,
    oracle_outcomes,
    random_reference,
)
from switchyard.learning.importers import (
    default_data_dir,
    import_gsm8k,
    import_mmlu,
    import_mt_bench,
    import_routerarena,
)
from switchyard.learning.inprocess_router import load_profiles
from switchyard.learning.sweep import DEFAULT_POINTS

HERE = Path(__file__).resolve().parent
FLEET = HERE / "quality" / "fleet.yaml"
RESULTS = HERE / "results"

MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
GPT4 = "gpt-4-1106-preview"
ROUTELLM_MODELS = {"mixtral": MIXTRAL, "gpt-4": GPT4}

# The verifier scorer's own split rule and seed: the distinct record ids shuffled by
# random.Random(seed), first half train. Today's scorer artefact was fitted on the train
# halves of GSM8K and RouterArena under exactly this rule (the importers' ids sort like
# its row keys), so every held-out half below holds only prompts it never saw.
SPLIT_SEED = training.DEFAULT_SEED


def split(records: Sequence[DatasetRecord]) -> tuple[list[DatasetRecord], list[DatasetRecord]]:
    train_ids, _ = training.split_halves([r.id for r in records], SPLIT_SEED)
    return (
        [r for r in records if r.id in train_ids],
        [r for r in records if r.id not in train_ids],
    )


@dataclass(frozen=True)
class BenchDataset:
    name: str
    importer: Callable[[Path], list[DatasetRecord]]
    model_map: dict[str, str]  # fleet model -> dataset model


def own_dataset(path: Path, model_map: dict[str, str]) -> BenchDataset:
    """A team's dataset file as a bench dataset; an empty map pairs equal names."""
    return BenchDataset(path.stem, lambda _data_dir: load_dataset(path), model_map)


DATASETS = (
    BenchDataset("gsm8k", import_gsm8k, ROUTELLM_MODELS),
    BenchDataset("mmlu", import_mmlu, ROUTELLM_MODELS),
    BenchDataset("mt-bench", import_mt_bench, ROUTELLM_MODELS),
    BenchDataset(
        "routerarena",
        import_routerarena,
        {"claude-3-haiku": "claude-3-haiku-20240307", "gemini-2.0-flash": "gemini-2.0-flash-001"},
    ),
)


# -- one dataset ------------------------------------------------------------------------


@dataclass
class DatasetResult:
    name: str
    train: int
    held: int
    rows: list[StrategyResult]
    roles: Roles | None
    skipped: list[tuple[str, str]]
    full_references: dict[str, float]  # single-model quality on the whole dataset
    notes: list[str] = field(default_factory=list)  # what fitted strategies chose on train


async def bench_dataset(
    data: BenchDataset, data_dir: Path, points: int, fleet: Path = FLEET
) -> DatasetResult:
    records = data.importer(data_dir)
    profiles = load_profiles(fleet)
    train, held = split(records)
    full = build_setup(records, profiles, data.model_map)
    train_setup = build_setup(train, profiles, data.model_map)
    held_setup = build_setup(held, profiles, data.model_map)
    references, weak_strong = report.reference_rows(held_setup)
    roles = Roles(*weak_strong) if weak_strong else None
    rows: list[StrategyResult] = []
    skipped = []
    notes: list[str] = []
    for strategy in strategies(points):
        reason = strategy.skip_reason(held_setup, roles)
        if reason:
            skipped.append((strategy.name, reason))
            continue
        strategy.fit(train_setup)
        rows.append(await strategy.evaluate(held_setup, roles))
        note = getattr(strategy, "note", None)
        if note:
            notes.append(f"{strategy.name}: {note}")
    singles = [r for r in references if r.kind == "model"]
    rows += [
        *references,
        random_reference(singles, at_cost=None, strong=weak_strong and weak_strong[1]),
    ]
    full_refs = {
        model: sum(full.quality(r, model) for r in full.records) / len(full.records)
        for model in full.models
    }
    full_refs["oracle"] = sum(o.quality for o in oracle_outcomes(full)) / len(full.records)
    return DatasetResult(
        name=data.name,
        train=len(train),
        held=len(held),
        rows=finalize(rows, weak_strong=weak_strong),
        roles=roles,
        skipped=skipped,
        full_references=full_refs,
        notes=notes,
    )


# -- the table and the reproduction checks ----------------------------------------------


def results_table(results: Sequence[DatasetResult]) -> str:
    header = ("dataset", *report.HEADER[:-1])
    rows = []
    for result in results:
        label = f"{result.name} (n={result.held})"
        for row in report.table_rows(result.rows):
            rows.append((label, *row[:-1]))
            label = ""
    return format_table(header, rows)


@dataclass(frozen=True)
class Check:
    name: str
    expected: float
    measured: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return abs(self.expected - self.measured) <= self.tolerance


def _row(result: DatasetResult, name: str) -> StrategyResult:
    return next(r for r in result.rows if r.name == name)


def reproduction_checks(results: Sequence[DatasetResult], data_dir: Path) -> list[Check]:
    """The bench against the verifier's own code and the datasets' published figures."""
    by_name = {r.name: r for r in results}
    checks: list[Check] = []
    if "gsm8k" in by_name:
        gsm = by_name["gsm8k"]
        _, held = training.gsm8k_split(training.read_gsm8k(data_dir), SPLIT_SEED)
        scorer = default_scorer()
        verifier = metrics.escalation_curve(
            [
                scorer.score(
                    prompt=it.prompt, task_type="math", output=it.weak_output, finish_reason="stop"
                )
                for it in held
            ],
            [float(it.weak_correct) for it in held],
            [float(it.strong_correct) for it in held],
        )
        checks += [
            Check(
                "gsm8k: scorer cascade APGR = `switchyard verifier eval`",
                verifier.apgr,
                _row(gsm, ScorerCascade.name).apgr,
                0.01,
            ),
            Check(
                "gsm8k: always-weak = verifier eval",
                verifier.weak_quality,
                _row(gsm, "mixtral").point.quality,
                1e-9,
            ),
            Check(
                "gsm8k: always-strong = verifier eval",
                verifier.strong_quality,
                _row(gsm, "gpt-4").point.quality,
                1e-9,
            ),
            Check(
                "gsm8k: oracle = share with either model right",
                sum(it.weak_correct or it.strong_correct for it in held) / len(held),
                _row(gsm, "oracle").point.quality,
                1e-9,
            ),
        ]
    if "mmlu" in by_name:
        mmlu = by_name["mmlu"]
        # data/README.md: MMLU accuracy on all 14,042 questions, GPT-4 80.6 %, Mixtral 68.1 %.
        checks += [
            Check(
                "mmlu: always-weak, all data = README 68.1 %",
                0.681,
                mmlu.full_references["mixtral"],
                0.0005,
            ),
            Check(
                "mmlu: always-strong, all data = README 80.6 %",
                0.806,
                mmlu.full_references["gpt-4"],
                0.0005,
            ),
        ]
        either = [
            row[MIXTRAL] == "True" or row[GPT4] == "True"
            for path in sorted((data_dir / "routellm" / "mmlu").glob("mmlu_*.csv"))
            for row in csv.DictReader(path.open(newline=""))
        ]
        checks.append(
            Check(
                "mmlu: oracle, all data = share with either model right (raw CSVs)",
                sum(either) / len(either),
                mmlu.full_references["oracle"],
                1e-9,
            )
        )
    if "routerarena" in by_name:
        arena = by_name["routerarena"]
        _, rows = training.arena_split(training.read_routerarena(data_dir), SPLIT_SEED)
        by_group: dict[str, dict[str, float]] = {}
        for row in rows:
            # The importer clamps labels into 0..1 (one NarrativeQA score is -0.033).
            by_group.setdefault(row.group, {})[row.model] = min(1.0, max(0.0, row.score))
        groups = [g for g in by_group.values() if len(g) == 2]
        for fleet_model, dataset_model in (
            ("claude-3-haiku", "claude-3-haiku-20240307"),
            ("gemini-2.0-flash", "gemini-2.0-flash-001"),
        ):
            checks.append(
                Check(
                    f"routerarena: always-{fleet_model} = raw scores",
                    sum(g[dataset_model] for g in groups) / len(groups),
                    _row(arena, fleet_model).point.quality,
                    1e-9,
                )
            )
        checks.append(
            Check(
                "routerarena: oracle = mean best score",
                sum(max(g.values()) for g in groups) / len(groups),
                _row(arena, "oracle").point.quality,
                1e-9,
            )
        )
    return checks


def checks_table(checks: Sequence[Check]) -> str:
    return format_table(
        ("check", "expected", "measured", "±", "ok"),
        [
            (
                c.name,
                f"{c.expected:.4f}",
                f"{c.measured:.4f}",
                f"{c.tolerance:g}",
                "yes" if c.ok else "NO",
            )
            for c in checks
        ],
    )


# -- main -------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.datasets:
        wanted = set(args.datasets.split(","))
    else:  # own datasets alone, unless the shipped ones are named too
        wanted = set() if args.dataset else {d.name for d in DATASETS}
    mapping = dict(pair.split("=", 1) for pair in args.map)
    chosen = [(d, FLEET) for d in DATASETS if d.name in wanted]
    for path in args.dataset:
        if path.stem in {d.name for d in DATASETS}:
            # Targets and reproduction checks go by name: a shipped name would apply them.
            print(
                f"bench.quality: --dataset {path}: rename it, {path.stem!r} names a "
                "shipped dataset",
                file=sys.stderr,
            )
            return 2
        chosen.append((own_dataset(path, mapping), args.fleet))
    results = []
    for data, fleet in chosen:
        step = time.perf_counter()
        try:
            results.append(await bench_dataset(data, args.data_dir, args.points, fleet))
        except (EvaluationError, ValueError, OSError) as exc:
            print(f"bench.quality: {data.name}: {exc}", file=sys.stderr)
            return 2
        print(f"{data.name}: {time.perf_counter() - step:.1f} s", file=sys.stderr)
    table = results_table(results)
    checks = reproduction_checks(results, args.data_dir)
    elapsed = time.perf_counter() - started
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    lines = [
        f"Held-out routing quality (split: ids shuffled by seed {SPLIT_SEED}, half held out;"
        f" fleet prices: {', '.join(sorted({_shown(fleet) for _, fleet in chosen}))})",
        "",
        table,
    ]
    for result in results:
        for name, reason in result.skipped:
            lines.append(f"{result.name}: {name}: skipped, {reason}")
        lines += [f"{result.name}: {note}" for note in result.notes]
    goals = quality_targets.targets(results)
    lines += ["", "Targets", quality_targets.targets_table(goals)]
    shown = checks_table(checks) if checks else "(none: they check the shipped datasets)"
    lines += ["", "Reproduction", shown, "", f"{elapsed:.1f} s"]
    text = "\n".join(lines)
    print(text)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"quality-{stamp}.txt").write_text(text + "\n")
    (args.out_dir / f"quality-{stamp}.json").write_text(
        json.dumps(
            {
                "run_id": stamp,
                "split_seed": SPLIT_SEED,
                "seconds": round(elapsed, 1),
                "datasets": [
                    {
                        "name": r.name,
                        "train": r.train,
                        "held_out": r.held,
                        "weak_strong": [r.roles.weak, r.roles.strong] if r.roles else None,
                        "skipped": r.skipped,
                        "notes": r.notes,
                        "rows": [report.json_ready(asdict(row)) for row in r.rows],
                    }
                    for r in results
                ],
                "checks": [c.__dict__ | {"ok": c.ok} for c in checks],
                "targets": [asdict(t) for t in goals],
            },
            indent=2,
            default=lambda o: o.__dict__,
        )
        + "\n"
    )
    if plot.available():
        png = plot.draw_panels(
            [
                plot.Panel(
                    f"{r.name} (n={r.held})", r.rows, r.roles and (r.roles.weak, r.roles.strong)
                )
                for r in results
            ],
            args.out_dir / f"quality-{stamp}.png",
            title="make bench-quality: held-out halves",
        )
        print(f"chart: {png.relative_to(Path.cwd()) if png.is_relative_to(Path.cwd()) else png}")
    else:
        print("chart skipped: matplotlib is not installed (pip install -e '.[bench]')")
    return 0 if all(c.ok for c in checks) else 1


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)


def _map_pair(value: str) -> str:
    if value.count("=") != 1 or not all(value.split("=")):
        raise argparse.ArgumentTypeError(f"{value!r} is not FLEET=DATASET")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument(
        "--datasets", help="comma-separated subset of " + ",".join(d.name for d in DATASETS)
    )
    parser.add_argument("--points", type=int, default=DEFAULT_POINTS, help="router sweep grid")
    parser.add_argument(
        "--dataset",
        type=Path,
        action="append",
        default=[],
        help="a team's own dataset file (docs/datasets.md format); repeatable",
    )
    parser.add_argument(
        "--fleet",
        type=Path,
        default=FLEET,
        help="fleet file pricing the --dataset models (default: bench/quality/fleet.yaml)",
    )
    parser.add_argument(
        "--map",
        type=_map_pair,
        action="append",
        default=[],
        metavar="FLEET=DATASET",
        help="which fleet model stands for a --dataset model (default: equal names)",
    )
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
