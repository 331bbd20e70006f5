"""`switchyard eval`: a policy on a labelled dataset, offline, through the router's code.

    switchyard eval --dataset FILE --policy FILE [--fleet FILE] [--map FLEET=DATASET,...]
                    [--sweep KNOB[=VALUES]] [--sweep-points N] [--png FILE] [--json FILE]
                    [--scorer-path FILE]
                    [--through-suite ADDRESS [--sample N]]

Prints the policy and the references (each model, oracle, random at matched cost) with
quality, cost per 1k requests, strong-call and escalation rates, APGR / CPT(50 %) /
CPT(80 %) for two-model data and AIQ. docs/evaluation.md explains every column.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from switchyard.cli.connection import add_tls_flags

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FLEET = REPO_ROOT / "examples" / "fleet.yaml"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a routing policy offline on a labelled dataset",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", type=Path, required=True, help="labelled JSONL dataset")
    parser.add_argument("--policy", type=Path, required=True, help="routing policy YAML")
    parser.add_argument(
        "--fleet",
        type=Path,
        default=DEFAULT_FLEET,
        help="fleet file with the models' prices and limits (default: examples/fleet.yaml)",
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FLEET=DATASET,...",
        help="fleet model FLEET answers with dataset model DATASET's recorded answers "
        "(repeatable; default: fleet models named like a dataset model)",
    )
    parser.add_argument(
        "--sweep",
        metavar="KNOB[=VALUES]",
        help="re-run with one knob moved: a named knob (min_score, escalate_gain, cost_weight, "
        "quality_floor, strong_share; values from a pilot run or a grid, docs/evaluation.md), "
        "with values "
        "(min_score=0.2,0.5 or min_score=0:1:11), or a dotted path such as "
        "default.min_score=0:1:11",
    )
    parser.add_argument("--sweep-points", type=int, default=None, help="grid size when chosen")
    parser.add_argument("--png", type=Path, help="chart path (default with --sweep: eval-*.png)")
    parser.add_argument("--json", type=Path, help="write the full report as JSON")
    parser.add_argument(
        "--max-output-tokens",
        type=int,
        default=0,
        help="max_output_tokens of each request (default: the router's, 512)",
    )
    parser.add_argument(
        "--artefacts-dir",
        default="artefacts",
        help="where a policy's predictor artefact path resolves (as the router's setting)",
    )
    parser.add_argument(
        "--scorer-path",
        help="the quality scorer the router's checks use (`switchyard train verifier`; as "
        "the router's and verifier's setting; default: the packaged one)",
    )
    parser.add_argument(
        "--through-suite",
        metavar="ADDRESS",
        help="also send a sample through a running router (simulator in replay mode) "
        "and check its decisions match the in-process run",
    )
    parser.add_argument("--sample", type=int, default=50, help="requests for --through-suite")
    parser.add_argument(
        "--token",
        default=os.environ.get("SWITCHYARD_TOKEN"),
        help="router token for --through-suite ($SWITCHYARD_TOKEN; default: make run's "
        "dev token for a router on this machine)",
    )
    add_tls_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout  # looked up per call: tests swap sys.stdout
    # Imported here: the router's code loads only for this command.
    from switchyard.checks.startup import startup_scorer
    from switchyard.fleet import FleetError
    from switchyard.learning import plot, report
    from switchyard.learning.dataset import DatasetError, load_dataset
    from switchyard.learning.evaluate import EvaluationError, build_setup, parse_model_map
    from switchyard.learning.inprocess_router import load_profiles
    from switchyard.learning.sweep import DEFAULT_POINTS, SweepError, parse_sweep
    from switchyard.runtime.errors import InvalidArgument, StartupError

    try:
        records = load_dataset(args.dataset)
        profiles = load_profiles(args.fleet)
        model_map: dict[str, str] = {}
        for item in args.map:
            for fleet_model, dataset_model in parse_model_map(item).items():
                if fleet_model in model_map:
                    raise EvaluationError(f"--map: fleet model {fleet_model!r} mapped twice")
                model_map[fleet_model] = dataset_model
        setup = build_setup(
            records,
            profiles,
            model_map,
            max_output_tokens=args.max_output_tokens,
            artefacts_dir=args.artefacts_dir,
        )
        if args.scorer_path:
            setup = dataclasses.replace(setup, scorer=startup_scorer(args.scorer_path))
        policy_source = args.policy.read_text()
        sweep = parse_sweep(args.sweep) if args.sweep else None
        result = asyncio.run(
            report.run_evaluation(
                setup,
                policy_source,
                dataset=str(args.dataset),
                sweep=sweep,
                points=args.sweep_points or DEFAULT_POINTS,
            )
        )
    except (DatasetError, FleetError, EvaluationError, SweepError, StartupError) as exc:
        print(f"eval: {exc}", file=sys.stderr)
        return 2
    except InvalidArgument as exc:
        problems = "; ".join(f"{v.field}: {v.description}" for v in exc.violations)
        print(f"eval: {args.policy}: {problems}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"eval: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    print(report.format_report(result), file=out)
    if args.json:
        report.write_json(result, args.json)
        print(f"report written to {args.json}", file=out)
    png = args.png or (Path(f"eval-{args.dataset.stem}.png") if sweep else None)
    if png is not None:
        if not plot.available():
            print("eval: the chart needs matplotlib: pip install -e '.[bench]'", file=sys.stderr)
            return 2
        plot.draw(
            result.rows,
            png,
            title=f"{args.dataset.name}: {args.policy.name}",
            weak_strong=result.weak_strong,
        )
        print(f"chart written to {png}", file=out)
    if args.through_suite:
        from switchyard.learning.through_suite import compare_with_suite

        return compare_with_suite(args, setup, policy_source, out=out)
    return 0
