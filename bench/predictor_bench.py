"""Quality-predictor benchmark: the time of one `predict()` over all candidate models.

    python -m bench.predictor_bench [--artifact FILE] [--dataset FILE ...] [--calls 20000]

Times `QualityPredictor.predict(prompt, task_type, models)` in-process, as the router's
`score`/`auto` selectors call it, once per request over every model the artefact
covers, on real prompts: every prompt of the datasets given (default: the RouterArena,
GSM8K and MMLU imports of ../shared/data, whose prompts run from 50 to 10,000
characters), cycled in a fixed shuffled order. Without --artifact, one is trained
first on the first dataset's train half (not timed). Prints p50 / p90 / p99 / max and
the feature-extraction share; the target (issue 12) is p99 < 300 µs.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from switchyard.learning.dataset import DatasetRecord, load_dataset
from switchyard.learning.predictor import load_predictor

TARGET_P99_US = 300.0


def _default_records() -> list[list[DatasetRecord]]:
    from switchyard.learning.importers import import_gsm8k, import_mmlu, import_routerarena
    from switchyard.learning.importers.common import default_data_dir

    data_dir = default_data_dir()
    return [import_routerarena(data_dir), import_gsm8k(data_dir), import_mmlu(data_dir)]


def _percentile(sorted_values: Sequence[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def _train(records: list[DatasetRecord], out: Path) -> None:
    from switchyard.learning.artefact import write_artefact
    from switchyard.learning.predictor_training import split_records, train_router_predictor

    train, _ = split_records(records, 1)
    trained = train_router_predictor(train, [])
    write_artefact(out, trained.manifest, trained.arrays)


def time_calls(
    predict, requests: Sequence[tuple[str, str]], models: Sequence[str], calls: int
) -> list[float]:
    """Microseconds per call; the GC is paused while timing, as it is not per-call work."""
    for prompt, task in requests[:200]:  # warm caches and the WordLlama table
        predict(prompt, task, models)
    times = []
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for i in range(calls):
            prompt, task = requests[i % len(requests)]
            start = clock()
            predict(prompt, task, models)
            times.append((clock() - start) / 1000)
    finally:
        gc.enable()
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.predictor_bench")
    parser.add_argument("--artifact", type=Path)
    parser.add_argument("--dataset", type=Path, action="append", default=[])
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args(argv)
    sets = [load_dataset(p) for p in args.dataset] if args.dataset else _default_records()
    with tempfile.TemporaryDirectory() as tmp:
        artifact = args.artifact
        if artifact is None:
            artifact = Path(tmp) / "bench.syqp"
            print(f"training a predictor on {len(sets[0])} records (not timed) ...")
            _train(sets[0], artifact)
        predictor = load_predictor(artifact)
    models = sorted(predictor.models)
    requests = [(r.prompt, r.task_type) for records in sets for r in records]
    random.Random(7).shuffle(requests)
    lengths = sorted(len(p) for p, _ in requests)
    print(
        f"artefact {predictor.content_hash[:19]}… models={len(models)}; {len(requests)} real "
        f"prompts, {lengths[0]}-{lengths[-1]} chars (median {lengths[len(lengths) // 2]})"
    )
    times = sorted(time_calls(predictor.predict, requests, models, args.calls))
    featurizer = predictor._featurizer
    feature_times = sorted(
        time_calls(lambda p, t, _m: featurizer.features(p, t), requests, models, args.calls)
    )
    print(f"\npredict() over {len(models)} models, {args.calls} calls (µs):")
    print("              p50     p90     p99     max    mean")
    for name, values in (("predict", times), ("features", feature_times)):
        print(
            f"  {name:<9} {_percentile(values, 50):>6.1f}  {_percentile(values, 90):>6.1f}  "
            f"{_percentile(values, 99):>6.1f}  {values[-1]:>6.1f}  {statistics.fmean(values):>6.1f}"
        )
    p99 = _percentile(times, 99)
    verdict = "meets" if p99 < TARGET_P99_US else "MISSES"
    print(f"\np99 {p99:.1f} µs {verdict} the {TARGET_P99_US:.0f} µs target")
    return 0 if p99 < TARGET_P99_US else 1


if __name__ == "__main__":
    sys.exit(main())
