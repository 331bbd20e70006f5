"""Shared builders for the learning tests: fleet files and a synthetic four-model dataset
whose models differ in quality per task type and in price."""

from __future__ import annotations

import json
import random
from pathlib import Path

from switchyard.learning.dataset import DatasetRecord, Message, ModelAnswer, write_dataset

GOOD = "A complete answer with the working shown, long enough to pass."
BAD = "meh"


def fleet_file(
    path: Path,
    prices: dict[str, int],
    *,
    latency_ms: int = 100,
    quality: dict[str, dict[str, float]] | None = None,
) -> Path:
    """A fleet file; `quality` gives registry quality per task type by model id."""
    entries = [
        f"""- id: {model}
  provider: {{kind: simulator, endpoint: "http://127.0.0.1:1/v1"}}
  pricing: {{input_per_mtok_micros: {price}, output_per_mtok_micros: {price}}}
  context_window: 32768
  max_output_tokens: 4096
  latency: {{total_p50_ms: {latency_ms}}}
  quality: {json.dumps((quality or {}).get(model, {}))}
"""
        for model, price in prices.items()
    ]
    path.write_text("".join(entries))
    return path


# P(acceptable answer) per model and task type, and price (µUSD per Mtok in and out).
QUALITY = {
    "tiny": {"chat": 0.75, "extraction": 0.7, "math": 0.3, "code_generation": 0.2},
    "mid": {"chat": 0.85, "extraction": 0.85, "math": 0.6, "code_generation": 0.45},
    "coder": {"chat": 0.6, "extraction": 0.7, "math": 0.65, "code_generation": 0.9},
    "big": {"chat": 0.92, "extraction": 0.93, "math": 0.9, "code_generation": 0.88},
}
PRICES = {"tiny": 100_000, "mid": 600_000, "coder": 800_000, "big": 6_000_000}


def four_model_dataset(path: Path, n: int = 160) -> list[DatasetRecord]:
    """Records whose wrong answers are mostly short (the length check catches 70 %)."""
    rng = random.Random(11)
    tasks = list(QUALITY["tiny"])
    records = []
    for i in range(n):
        task = tasks[i % len(tasks)]
        answers = {}
        for model, by_task in QUALITY.items():
            good = rng.random() < by_task[task]
            text = GOOD if good or rng.random() < 0.3 else BAD
            answers[model] = ModelAnswer(
                quality=1.0 if good else 0.0,
                input_tokens=50 + rng.randrange(200),
                output_tokens=100 + rng.randrange(400),
                answer=text,
                latency_ms=200.0 + rng.randrange(800),
            )
        records.append(
            DatasetRecord(
                id=f"s{i:04d}",
                messages=(Message("user", f"{task} request number {i}"),),
                task_type=task,
                answers=answers,
            )
        )
    write_dataset(path, records)
    return records
