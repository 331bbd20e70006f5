"""`switchyard verifier train|eval`: fit the quality scorer and measure it on held-out data.

    switchyard verifier train [--data-dir ../shared/data] [--out ARTEFACT] [--seed N]
                              [--answer-embedding]
    switchyard verifier eval  [--data-dir ../shared/data] [--artifact ARTEFACT]

`eval` rebuilds the held-out halves from the seed recorded in the artefact, so it
never scores an answer the scorer was fitted on.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from switchyard.checks import evaluation, training
from switchyard.checks.scorer import (
    DEFAULT_ARTIFACT,
    ArtifactError,
    LogisticModel,
    LogisticQualityScorer,
    load_scorer,
    save_scorer,
)
from switchyard.learning.features import EmbeddingSpec, default_spec
from switchyard.learning.importers import default_data_dir


def register(subparsers: Any) -> None:
    """Add the `verifier` command (subcommands train and eval) to a CLI."""
    verifier = subparsers.add_parser("verifier", help="train and evaluate the quality scorer")
    commands = verifier.add_subparsers(dest="verifier_command", required=True)

    train = commands.add_parser("train", help="fit the scorer on the train halves, save it")
    train.add_argument("--data-dir", type=Path, default=default_data_dir())
    train.add_argument("--out", type=Path, default=DEFAULT_ARTIFACT, help="artefact to write")
    train.add_argument("--seed", type=int, default=training.DEFAULT_SEED, help="split seed")
    train.add_argument(
        "--answer-embedding",
        action="store_true",
        help="let each model also read the answer's WordLlama embedding where it "
        "cross-validates better (off for the packaged artefact: ~0.1-0.2 ms a scored answer)",
    )
    train.set_defaults(func=run_train)

    evaluate = commands.add_parser("eval", help="APGR / CPT(50%%) and calibration on held-out")
    evaluate.add_argument("--data-dir", type=Path, default=default_data_dir())
    evaluate.add_argument("--artifact", type=Path, default=DEFAULT_ARTIFACT)
    evaluate.set_defaults(func=run_eval)


def _heldout_metrics(
    model: LogisticModel,
    answers: Sequence[training.LabelledAnswer],
    embedding: EmbeddingSpec | None,
) -> dict:
    probabilities = [model.score_answer(a.features(), a.output, embedding) for a in answers]
    labels = [a.acceptable for a in answers]
    base_rate = sum(labels) / len(labels)
    return {
        "n": len(labels),
        "base_rate": round(base_rate, 4),
        "brier": round(evaluation.brier(probabilities, labels), 4),
        "brier_base_rate": round(evaluation.brier([base_rate] * len(labels), labels), 4),
        "auc": round(evaluation.roc_auc(probabilities, labels), 4),
        "reliability": [
            {
                "bin": f"{b.low:.1f}-{b.high:.1f}",
                "n": b.count,
                "predicted": round(b.mean_predicted, 3),
                "observed": round(b.observed, 3),
            }
            for b in evaluation.reliability_table(probabilities, labels)
        ],
    }


def _fit(
    name: str,
    task_types: Sequence[str],
    train: Sequence[training.LabelledAnswer],
    heldout: Sequence[training.LabelledAnswer],
    *,
    seed: int,
    source: str,
    embedding: EmbeddingSpec | None,
) -> LogisticModel:
    model, fit = training.fit_answer_model(name, task_types, train, seed=seed, embedding=embedding)
    info = {
        "source": source,
        "seed": seed,
        "split": "distinct prompts shuffled by random.Random(seed); first half train",
        **fit,
        "heldout": _heldout_metrics(model, heldout, embedding),
    }
    return dataclasses.replace(model, training=info)


def _print_model(model: LogisticModel, out: TextIO) -> None:
    info = model.training
    held = info["heldout"]
    print(
        f"\nmodel {model.name!r} (task types: {', '.join(model.task_types) or 'default'})"
        f"\n  source: {info['source']}\n  train n={info['n_train']}  l2={info['l2']} "
        f"reads {'features and the answer embedding' if info['answer_embedding'] else 'features'} "
        f"(5-fold CV on train)\n  held-out n={held['n']}  base rate={held['base_rate']:.3f}  "
        f"Brier={held['brier']:.4f} (base-rate Brier {held['brier_base_rate']:.4f})  "
        f"AUC={held['auc']:.3f}",
        file=out,
    )
    print("  reliability (held-out):  bin        n   predicted  observed", file=out)
    for row in held["reliability"]:
        print(
            f"                           {row['bin']:<9} {row['n']:>4}   "
            f"{row['predicted']:>8.3f}  {row['observed']:>8.3f}",
            file=out,
        )


def run_train(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    data_dir: Path = args.data_dir
    try:
        gsm8k = training.read_gsm8k(data_dir)
        arena = training.read_routerarena(data_dir)
    except (OSError, KeyError, ValueError) as exc:
        print(f"verifier train: cannot read data under {data_dir}: {exc}", file=sys.stderr)
        return 2
    embedding = default_spec().embedding if args.answer_embedding else None
    gsm_train, gsm_held = training.gsm8k_split(gsm8k, args.seed)
    arena_train, arena_held = training.arena_split(arena, args.seed)
    math_model = _fit(
        "math",
        ["math"],
        training.gsm8k_answers(gsm_train),
        training.gsm8k_answers(gsm_held),
        seed=args.seed,
        source=f"{training.GSM8K_FILE}: {training.GSM8K_WEAK} answers, label = correct",
        embedding=embedding,
    )
    general_model = _fit(
        "general",
        [],
        training.arena_answers(arena_train),
        training.arena_answers(arena_held),
        seed=args.seed,
        source=(
            "routerarena/*.jsonl: Claude 3 Haiku and Gemini 2.0 Flash answers, "
            f"label = score >= {training.ACCEPTABLE_SCORE}"
        ),
        embedding=embedding,
    )
    scorer = training.build_scorer(
        [math_model, general_model], default_model="general", embedding=embedding
    )
    save_scorer(scorer, args.out)
    print(f"quality scorer {scorer.version} written to {args.out}", file=out)
    for model in (math_model, general_model):
        _print_model(model, out)
    return 0


def _print_curve(report: evaluation.EscalationReport, out: TextIO) -> None:
    print("  strong calls  quality   PGR    threshold", file=out)
    shown = set()
    for target in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0):
        point = next(p for p in report.curve if p.strong_fraction >= target - 1e-9)
        if point in shown:
            continue
        shown.add(point)
        threshold = "never" if point.strong_fraction == 0 else f"< {point.threshold:.3f}"
        if point.threshold == float("inf"):
            threshold = "always"
        print(
            f"  {point.strong_fraction:>10.1%}  {point.quality:>7.3f}  {point.pgr:>5.2f}    "
            f"{threshold}",
            file=out,
        )


def run_eval(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    try:
        scorer: LogisticQualityScorer = load_scorer(args.artifact)
        math_model = scorer.models["math"]
        seed = int(math_model.training["seed"])
    except (ArtifactError, KeyError, TypeError, ValueError) as exc:
        print(f"verifier eval: {exc}", file=sys.stderr)
        return 2
    try:
        gsm8k = training.read_gsm8k(args.data_dir)
        arena = training.read_routerarena(args.data_dir)
    except (OSError, KeyError, ValueError) as exc:
        print(f"verifier eval: cannot read data under {args.data_dir}: {exc}", file=sys.stderr)
        return 2
    _, held = training.gsm8k_split(gsm8k, seed)
    scores = [
        scorer.score(
            prompt=it.prompt, task_type="math", output=it.weak_output, finish_reason="stop"
        )
        for it in held
    ]
    report = evaluation.escalation_curve(
        scores,
        [float(it.weak_correct) for it in held],
        [float(it.strong_correct) for it in held],
    )
    labels = [it.weak_correct for it in held]
    print(f"quality scorer {scorer.version} ({args.artifact})", file=out)
    print(
        f"\nGSM8K held-out half (seed {seed}, n={len(held)}): escalate "
        f"{training.GSM8K_WEAK} -> {training.GSM8K_STRONG} when P(acceptable) < threshold",
        file=out,
    )
    print(
        f"  always-weak accuracy {report.weak_quality:.3f}, always-strong "
        f"{report.strong_quality:.3f}; Brier {evaluation.brier(scores, labels):.4f}, "
        f"AUC {evaluation.roc_auc(scores, labels):.3f}",
        file=out,
    )
    _print_curve(report, out)
    print(f"  APGR      = {report.apgr:.3f}   (random 0.5, target >= 0.70)", file=out)
    print(f"  CPT(50%)  = {report.cpt50:.1%}   (random 50%, target <= 30%)", file=out)

    weak_name, strong_name = list(training.ROUTERARENA_FILES)
    _, arena_held = training.arena_split(arena, seed)
    by_group: dict[str, dict[str, training.ArenaRow]] = {}
    for row in arena_held:
        by_group.setdefault(row.group, {})[row.model] = row
    pairs = [g for g in by_group.values() if weak_name in g and strong_name in g]
    if pairs:
        arena_scores = [
            scorer.score(
                prompt=g[weak_name].prompt,
                task_type=training.arena_task_type(g[weak_name].group),
                output=g[weak_name].output,
                finish_reason="stop",
            )
            for g in pairs
        ]
        try:
            arena_report = evaluation.escalation_curve(
                arena_scores,
                [g[weak_name].score for g in pairs],
                [g[strong_name].score for g in pairs],
            )
        except ValueError as exc:
            print(f"\nRouterArena held-out: {exc}", file=out)
        else:
            print(
                f"\nRouterArena held-out half (n={len(pairs)}): escalate {weak_name} -> "
                f"{strong_name}: APGR = {arena_report.apgr:.3f}, "
                f"CPT(50%) = {arena_report.cpt50:.1%} (mean score "
                f"{arena_report.weak_quality:.3f} -> {arena_report.strong_quality:.3f})",
                file=out,
            )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry (`python -m switchyard.cli.verifier ...`) until wired into the CLI."""
    parser = argparse.ArgumentParser(prog="switchyard")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
