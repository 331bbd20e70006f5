"""Quality-predictor benchmark: the time of one `predict()` over all candidate models.

    python -m bench.predictor_bench [--artifact FILE] [--dataset FILE ...] [--calls N]

Times `QualityPredictor.predict(prompt, task_type, models)` in-process, as the router's
`score`/`auto` selectors call it, once per request over every model the artefact
covers, on real prompts: the datasets given (default: the RouterArena, GSM8K and MMLU
imports of ../shared/data, prompts of 40 to 10,000 characters) in a fixed shuffled
order; half of them warm the per-word caches first (a router that has served traffic),
the other half are timed, each a prompt the predictor has never seen, then timed again
(`again`: a prompt it has just seen, as Route() after Plan(), served from its recent
predictions). Without
--artifact, one is trained first on the first dataset's train half (not timed).
Prints wall and thread-CPU p50 / p90 / p99 / max (on a shared machine wall time also
counts other processes' slices) and the feature-extraction share; the target (issue
12) is wall p99 < 300 µs.
"""

from __future__ import annotations

import argparse
import gc
import os
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
    from switchyard.learning.heldout import split_records
    from switchyard.learning.predictor_training import train_router_predictor

    train, _ = split_records(records, 1)
    trained = train_router_predictor(train, [])
    write_artefact(out, trained.manifest, trained.arrays)


def time_calls(
    predict,
    requests: Sequence[tuple[str, str]],
    models: Sequence[str],
    calls: int,
    *,
    before_each=None,
) -> tuple[list[float], list[float]]:
    """(wall, CPU) microseconds per call. CPU is this thread's own time: on a shared
    machine, wall time also counts the slices other processes ran in. The GC is paused
    while timing, as it is not per-call work."""
    wall, cpu = [], []
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    gc.collect()
    gc.disable()
    try:
        for i in range(calls):
            prompt, task = requests[i % len(requests)]
            if before_each is not None:
                before_each(prompt, task, models)
            start, start_cpu = clock(), cpu_clock()
            predict(prompt, task, models)
            cpu.append((cpu_clock() - start_cpu) / 1000)
            wall.append((clock() - start) / 1000)
    finally:
        gc.enable()
    return sorted(wall), sorted(cpu)


def _row(name: str, values: Sequence[float]) -> str:
    return (
        f"  {name:<15} {_percentile(values, 50):>7.1f} {_percentile(values, 90):>7.1f} "
        f"{_percentile(values, 99):>7.1f} {values[-1]:>8.1f} {statistics.fmean(values):>7.1f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.predictor_bench")
    parser.add_argument("--artifact", type=Path)
    parser.add_argument("--dataset", type=Path, action="append", default=[])
    parser.add_argument("--calls", type=int, default=0, help="default: each timed prompt once")
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
    # A router has served traffic before: its per-word caches are warm, but each prompt
    # it times is one it has never seen. Warm on half the prompts, time the other half.
    half = len(requests) // 2
    for prompt, task in requests[:half]:
        predictor.predict(prompt, task, models)
    requests = requests[half:]
    calls = args.calls or len(requests)
    lengths = sorted(len(p) for p, _ in requests)
    print(
        f"artefact {predictor.content_hash[:19]}… models={len(models)}; {len(requests)} real "
        f"prompts, {lengths[0]}-{lengths[-1]} chars (median {lengths[len(lengths) // 2]})"
    )
    load_before = os.getloadavg()[0]
    wall, cpu = time_calls(predictor.predict, requests, models, calls)

    # A prompt just seen: what Route() pays after Plan() of the same request, or a
    # retry (the predictor keeps its recent prompts' predictions). Each timed call
    # follows an untimed one on the same prompt.
    def predict_again(prompt: str, task: str, wanted: Sequence[str]) -> None:
        predictor.predict(prompt, task, wanted)

    again_wall, again_cpu = time_calls(
        predictor.predict, requests, models, calls, before_each=predict_again
    )
    featurizer = predictor._featurizer
    feature_wall, feature_cpu = time_calls(
        lambda p, t, _m: featurizer.features(p, t), requests, models, calls
    )
    print(
        f"\npredict() over {len(models)} models, {calls} calls on {len(requests)} prompts "
        f"never seen before (µs; load average {load_before:.1f} -> "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):"
    )
    print("                      p50     p90     p99      max    mean")
    for name, values in (
        ("predict wall", wall),
        ("predict CPU", cpu),
        ("again wall", again_wall),
        ("again CPU", again_cpu),
        ("features wall", feature_wall),
        ("features CPU", feature_cpu),
    ):
        print(_row(name, values))
    p99 = _percentile(wall, 99)
    verdict = "meets" if p99 < TARGET_P99_US else "MISSES"
    print(f"\nwall p99 {p99:.1f} µs {verdict} the {TARGET_P99_US:.0f} µs target")
    return 0 if p99 < TARGET_P99_US else 1


if __name__ == "__main__":
    sys.exit(main())
