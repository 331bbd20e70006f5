"""Before/after of the predictor's feature code on a shared machine.

    python -m bench.predictor_ab [--against REV] [--rounds N] [--artifact FILE]

`bench.predictor_bench` times each never-seen prompt once, so on a machine other
processes share, its tail is mostly their time slices. This script loads the predictor
twice, once with `switchyard/learning/features.py` as it is and once with that file at
git revision REV (default `main`), warms both on the same half of the prompts, then
times `predict()` on the other half in R rounds, alternating which goes first, each
round from the same warmed caches (so every prompt is never seen again). Per prompt it
keeps the fastest round: a slice stolen by another process rarely hits the same prompt
R times. It also checks that both give the same predictions, bit for bit.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from bench.predictor_bench import _default_records, _percentile, _train
from switchyard.learning.predictor import QualityPredictor, load_predictor

REPO = Path(__file__).resolve().parent.parent


def _features_at(revision: str, folder: Path) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{revision}:switchyard/learning/features.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = folder / "features_at_revision.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("features_at_revision", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _memos(predictor: QualityPredictor) -> list[dict]:  # type: ignore[type-arg]
    """Every per-word cache of a featurizer (whatever the revision names them)."""
    featurizer = predictor._featurizer
    owners = (featurizer._word, featurizer._char, featurizer._embed)
    return [value for owner in owners for value in vars(owner).values() if isinstance(value, dict)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.predictor_ab")
    parser.add_argument("--against", default="main", help="git revision of the other side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--artifact", type=Path)
    args = parser.parse_args(argv)
    sets = _default_records()
    with tempfile.TemporaryDirectory() as tmp:
        artifact = args.artifact
        if artifact is None:
            artifact = Path(tmp) / "bench.syqp"
            _train(sets[0], artifact)
        current = load_predictor(artifact)
        other = _features_at(args.against, Path(tmp))
    spec = other.FeatureSpec.from_json(current._featurizer.spec.to_json())
    sides = {
        "current": current,
        args.against: dataclasses.replace(
            current, _featurizer=other.PromptFeaturizer(spec), _recent={}
        ),
    }
    models = sorted(current.models)
    requests = [(r.prompt, r.task_type) for records in sets for r in records]
    random.Random(7).shuffle(requests)
    half = len(requests) // 2
    for predictor in sides.values():
        for prompt, task in requests[:half]:
            predictor._featurizer.features(prompt, task)
    warmed = {name: [dict(memo) for memo in _memos(p)] for name, p in sides.items()}
    timed = requests[half:]
    fastest = {name: np.full(len(timed), np.inf) for name in sides}
    outputs: dict[str, list[dict[str, float]]] = {}
    clock = time.perf_counter_ns
    for round_ in range(args.rounds):
        order = list(sides) if round_ % 2 else list(sides)[::-1]
        for name in order:
            predictor = sides[name]
            for memo, saved in zip(_memos(predictor), warmed[name], strict=True):
                memo.clear()
                memo.update(saved)
            predictor._recent.clear()
            best = fastest[name]
            results = []
            gc.collect()
            gc.disable()
            try:
                for i, (prompt, task) in enumerate(timed):
                    start = clock()
                    results.append(predictor.predict(prompt, task, models))
                    best[i] = min(best[i], (clock() - start) / 1000)
            finally:
                gc.enable()
            outputs[name] = results
    same = outputs["current"] == outputs[args.against]
    print(
        f"predict() over {len(models)} models on {len(timed)} never-seen prompts, fastest of "
        f"{args.rounds} rounds per prompt (µs); predictions identical: {same}"
    )
    print("                      p50     p90     p99      max    mean")
    for name, values in fastest.items():
        values = np.sort(values)
        print(
            f"  {name[:15]:<15} {_percentile(values, 50):>7.1f} {_percentile(values, 90):>7.1f} "
            f"{_percentile(values, 99):>7.1f} {values[-1]:>8.1f} {values.mean():>7.1f}"
        )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
