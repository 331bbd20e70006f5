"""Replay mode: serve real models' recorded answers to real benchmark prompts.

`--replay gsm8k` reads RouteLLM's GSM8K responses (Mixtral-8x7B and GPT-4 answer texts,
no token counts); `--replay routerarena` reads RouterArena's Claude 3 Haiku and Gemini
2.0 Flash answers with their real token usage. A simulated model names the dataset
model it stands for (`replay:` in the models file); when a request's last user message
matches a dataset prompt (after normalisation) that model's recorded answer is served,
otherwise the synthetic answer is. Loading builds one dict keyed by normalised prompt,
so a lookup is one hash of the prompt.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.simulator.engine import RecordedAnswer
from services.simulator.models import ModelProfile
from switchyard.runtime.errors import StartupError

GSM8K_FILE = Path("routellm") / "gsm8k" / "gsm8k_responses.csv"
ROUTERARENA_DIR = Path("routerarena")
ROUTERARENA_MODELS = ("claude-3-haiku-20240307", "gemini-2.0-flash-001")

_SPACE = re.compile(r"\s+")
# Typographic quotes and dashes that clients often replace with ASCII ones.
_ASCII = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-"})


def normalise_prompt(text: str) -> str:
    """Case, whitespace and typographic punctuation do not decide whether prompts match."""
    text = unicodedata.normalize("NFKC", text).translate(_ASCII)
    return _SPACE.sub(" ", text).strip().casefold()


@dataclass
class ReplayIndex:
    """Recorded answers of one dataset, by normalised prompt then dataset model."""

    dataset: str
    models: tuple[str, ...]
    answers: dict[str, dict[str, RecordedAnswer]] = field(default_factory=dict)
    # Original prompt texts in dataset order (for benchmarks that want to send them).
    prompts: list[str] = field(default_factory=list)

    def add(self, prompt: str, dataset_model: str, answer: RecordedAnswer) -> None:
        key = normalise_prompt(prompt)
        by_model = self.answers.get(key)
        if by_model is None:
            by_model = self.answers[key] = {}
            self.prompts.append(prompt)
        by_model.setdefault(dataset_model, answer)

    def lookup(self, dataset_model: str, prompt: str) -> RecordedAnswer | None:
        by_model = self.answers.get(normalise_prompt(prompt))
        return by_model.get(dataset_model) if by_model else None

    def check_mapping(self, profiles: Mapping[str, ModelProfile]) -> None:
        """Every `replay:` entry for this dataset must name a model the dataset has."""
        problems = [
            f"models.{name}.replay.{self.dataset}: dataset has no model {wanted!r} "
            f"(known: {', '.join(self.models)})"
            for name, profile in profiles.items()
            if (wanted := profile.replay.get(self.dataset)) and wanted not in self.models
        ]
        if problems:
            raise StartupError("; ".join(problems))


def load_gsm8k(path: Path) -> ReplayIndex:
    csv.field_size_limit(sys.maxsize)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            models = tuple(c.removesuffix("_response") for c in columns if c.endswith("_response"))
            index = ReplayIndex("gsm8k", models)
            for row in reader:
                for model in models:
                    text = row.get(f"{model}_response")
                    if text:
                        index.add(row["prompt"], model, RecordedAnswer(text.strip()))
    except (OSError, KeyError, csv.Error) as exc:
        raise StartupError(f"replay gsm8k: cannot read {path}: {exc}") from exc
    return index


def load_routerarena(directory: Path, models: Iterable[str] = ROUTERARENA_MODELS) -> ReplayIndex:
    models = tuple(models)
    index = ReplayIndex("routerarena", models)
    for model in models:
        path = directory / f"{model}.jsonl"
        try:
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    if not line.strip():
                        continue
                    row = json.loads(line)
                    text = row.get("generated_answer")
                    if not isinstance(text, str) or not text:
                        continue
                    usage = row.get("token_usage") or {}
                    index.add(
                        row["question"],
                        model,
                        RecordedAnswer(
                            text,
                            input_tokens=_count(usage.get("input_tokens")),
                            output_tokens=_count(usage.get("output_tokens")),
                        ),
                    )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StartupError(f"replay routerarena: cannot read {path}: {exc}") from exc
    return index


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def load_replay(dataset: str, data_dir: Path) -> ReplayIndex:
    """The index for `dataset` ("gsm8k" | "routerarena") under the shared data folder."""
    if dataset == "gsm8k":
        return load_gsm8k(data_dir / GSM8K_FILE)
    if dataset == "routerarena":
        return load_routerarena(data_dir / ROUTERARENA_DIR)
    raise StartupError(f"unknown replay dataset {dataset!r}")
