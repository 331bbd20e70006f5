"""`switchyard train router|verifier`: fit learned checks from a labelled dataset.

    switchyard train router   --dataset FILE [--held-out FILE | --seed N] --out ARTEFACT
    switchyard train verifier --dataset FILE [--held-out FILE | --seed N] --out ARTEFACT
                              [--answers-of MODEL ...] [--no-answer-embedding]

`router` fits per-model P(acceptable | prompt, task type) for the router's selectors
(the artefact a policy names; `load_predictor` checks its hash). `verifier` fits the
verifier's probabilistic quality check per task family from the answers' texts, in
the verifier's artefact format (a verifier loads it with `--scorer-path`).

Without --held-out, the dataset is split by --seed into train and held-out halves
before anything is fitted; every reported figure is from the held-out part.

Exit status: 0 written, 1 refused (the data cannot train it), 2 bad usage or an
unreadable dataset.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any, TextIO

from switchyard.checks.scorer import save_scorer
from switchyard.cli.tables import format_table
from switchyard.learning.artefact import write_artefact
from switchyard.learning.dataset import DatasetError, DatasetRecord, load_dataset
from switchyard.learning.heldout import split_records
from switchyard.learning.predictor_training import (
    DEFAULT_SEED,
    TrainingConfig,
    TrainingError,
    train_router_predictor,
)
from switchyard.learning.verifier_training import VerifierTrainingError, train_verifier


def register(subparsers: Any) -> None:
    train = subparsers.add_parser("train", help="fit learned predictors from a labelled dataset")
    commands = train.add_subparsers(dest="train_command", required=True)
    router = commands.add_parser(
        "router", help="per-model P(acceptable | prompt, task type) for the router's selectors"
    )
    _data_arguments(router)
    router.set_defaults(func=run_router)
    verifier = commands.add_parser(
        "verifier", help="the verifier's quality scorer, per task family, from answer texts"
    )
    _data_arguments(verifier)
    verifier.add_argument(
        "--answers-of",
        action="append",
        metavar="MODEL",
        help="fit on this model's answers only (repeatable; default: every model's)",
    )
    verifier.add_argument(
        "--no-answer-embedding",
        action="store_true",
        help="the hand-made answer features only, never the answer's embedding "
        "(default: per family, whichever cross-validates better; the embedding costs "
        "the verifier ~0.1-0.2 ms a scored answer)",
    )
    verifier.set_defaults(func=run_verifier)


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", type=Path, required=True, help="labelled dataset (JSONL)")
    held = parser.add_mutually_exclusive_group()
    held.add_argument("--held-out", type=Path, help="held-out dataset to report on")
    held.add_argument("--seed", type=int, default=None, help=f"split seed (default {DEFAULT_SEED})")
    parser.add_argument("--out", type=Path, required=True, help="artefact to write")


def _file_sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _train_and_heldout(
    args: argparse.Namespace, seed: int
) -> tuple[list[DatasetRecord], list[DatasetRecord], dict[str, Any]]:
    """(train, held-out, provenance); DatasetError or OSError when a file is unusable."""
    records = load_dataset(args.dataset)
    source: dict[str, Any] = {
        "dataset": str(args.dataset),
        "dataset_sha256": _file_sha256(args.dataset),
    }
    if args.held_out is not None:
        source.update(held_out=str(args.held_out), held_out_sha256=_file_sha256(args.held_out))
        source["split"] = "train = --dataset, held-out = --held-out"
        return records, load_dataset(args.held_out), source
    train, heldout = split_records(records, seed)
    source["split"] = f"record ids by sha256(seed:id), seed {seed}, half held out"
    return train, heldout, source


def run_router(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    seed = DEFAULT_SEED if args.seed is None else args.seed
    try:
        train, heldout, source = _train_and_heldout(args, seed)
    except (DatasetError, OSError) as exc:
        print(f"train router: {exc}", file=sys.stderr)
        return 2
    try:
        trained = train_router_predictor(
            train, heldout, config=TrainingConfig(seed=seed), source=source
        )
    except TrainingError as exc:
        print(f"train router: {args.dataset}: {exc}", file=sys.stderr)
        return 1
    content_hash = write_artefact(args.out, trained.manifest, trained.arrays)
    print(f"quality predictor {content_hash} written to {args.out}", file=out)
    print_report(trained.manifest, out)
    return 0


def run_verifier(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    seed = DEFAULT_SEED if args.seed is None else args.seed
    try:
        train, heldout, source = _train_and_heldout(args, seed)
    except (DatasetError, OSError) as exc:
        print(f"train verifier: {exc}", file=sys.stderr)
        return 2
    try:
        trained = train_verifier(
            train,
            heldout,
            seed=seed,
            source=source,
            answers_of=args.answers_of,
            with_embedding=not args.no_answer_embedding,
        )
    except VerifierTrainingError as exc:
        print(f"train verifier: {args.dataset}: {exc}", file=sys.stderr)
        return 1
    save_scorer(trained.scorer, args.out)
    print(f"quality scorer {trained.scorer.version} written to {args.out}", file=out)
    print(
        f"  {'family':<10} {'task types':<28} {'train':>6} {'l2':>5} {'reads':<18}  held-out",
        file=out,
    )
    for family, report in trained.reports.items():
        model = trained.scorer.models[family]
        held = report["heldout"]
        reads = "features+embedding" if report["answer_embedding"] else "features"
        line = (
            f"  {family:<10} {', '.join(model.task_types) or '(default)':<28} "
            f"{report['n_train']:>6} {report['l2']:>5g} {reads:<18}  n={held.get('n', 0)} "
            f"LL={_figure(held.get('log_loss'))} Brier={_figure(held.get('brier'))} "
            f"AUC={_figure(held.get('auc'), '.3f')}"
        )
        escalation = report.get("escalation")
        if escalation:
            line += (
                f"; escalate {escalation['weak']} -> {escalation['strong']}: "
                f"APGR {escalation['apgr']:.3f}, CPT(50%) {escalation['cpt50']:.1%}"
            )
        print(line, file=out)
    return 0


def _figure(value: Any, fmt: str = ".4f") -> str:
    return "n/a" if value is None else format(value, fmt)


def print_report(manifest: dict[str, Any], out: TextIO) -> None:
    training = manifest["training"]
    print(
        f"train {training['train_records']} records, held-out {training['heldout_records']}; "
        "estimator chosen per model by validation log loss on train only "
        f"({training['cv_folds']}-fold CV below {training['cv_below_rows']} rows, "
        f"else a {training['validation_fraction']:.0%} slice)",
        file=out,
    )
    rows = []
    for model, report in manifest["models"].items():
        chosen = report["validation"]["chosen"]
        held = report.get("heldout", {})
        rows.append(
            (
                model,
                chosen,
                _figure(report["validation"]["log_loss"].get(chosen)),
                _figure(held.get("log_loss")),
                _figure(held.get("brier")),
                _figure(held.get("auc"), ".3f"),
                held.get("n", 0),
                _figure(held.get("base_rate"), ".3f"),
            )
        )
    header = ("model", "chosen", "val LL", "LL", "Brier", "AUC", "n", "base rate")
    print("\nheld-out figures per model:\n" + format_table(header, rows), file=out)
    routing = manifest.get("heldout_routing")
    if routing and "apgr" in routing:
        print(
            f"\nrouting {routing['weak']} -> {routing['strong']} when P_strong - P_weak > t "
            f"(held-out n={routing['n']}): APGR {routing['apgr']:.3f}, "
            f"CPT(50%) {routing['cpt50']:.1%} (quality {routing['weak_quality']:.3f} -> "
            f"{routing['strong_quality']:.3f})",
            file=out,
        )
    elif routing and "error" in routing:
        print(f"\nrouting figures: {routing['error']}", file=out)
