"""Replay mode: serve real models' recorded answers to the prompts of labelled datasets.

`--replay` (repeatable) takes a dataset file in the labelled-dataset format
(docs/datasets.md) or the name of a built-in import of the shared data (`gsm8k`,
`mt-bench`, `routerarena`), which is run through the same importer as
`switchyard datasets import` and then indexed exactly like a file. A dataset's key in
the models file's `replay:` mappings is its built-in name, or the file's stem
(`logs/support.jsonl` -> `support`).

A simulated model names, per dataset key, the dataset model it stands for. When a
request's last user message matches a dataset prompt after normalisation, that model's
recorded answer is served with the recorded token counts (the simulator's own estimate
when the dataset flags them `tokens_estimated`); latency still comes from the simulated
model's profile. A prompt no mapped dataset holds gets the synthetic answer and is
counted (`replay_misses`). Loading builds one dict per dataset keyed by normalised
prompt, so a lookup is one normalisation and one hash per mapped dataset.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.simulator.config import REPLAY_DATASETS
from services.simulator.engine import RecordedAnswer
from services.simulator.models import ModelProfile
from switchyard.learning.dataset import DatasetError, DatasetRecord, ModelAnswer, load_dataset
from switchyard.learning.importers import BUILT_IN
from switchyard.runtime.errors import StartupError

_SPACE = re.compile(r"\s+")
# Typographic quotes and dashes that clients often replace with ASCII ones.
_ASCII = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-"})


def normalise_prompt(text: str) -> str:
    """Case, whitespace and typographic punctuation do not decide whether prompts match."""
    text = unicodedata.normalize("NFKC", text).translate(_ASCII)
    return _SPACE.sub(" ", text).strip().casefold()


def dataset_key(source: str) -> str:
    """The name `replay:` mappings use: a built-in name as is, a file by its stem."""
    return source if source in REPLAY_DATASETS else Path(source).name.removesuffix(".jsonl")


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


def recorded(answer: ModelAnswer) -> RecordedAnswer | None:
    """What replay serves for one dataset answer; None when no text was recorded."""
    if not answer.answer:
        return None
    if answer.tokens_estimated:
        # An estimate made at import time knows less than the simulator's own estimate
        # of the request it is answering (system prompt, message overhead).
        return RecordedAnswer(answer.answer)
    return RecordedAnswer(
        answer.answer, input_tokens=answer.input_tokens, output_tokens=answer.output_tokens
    )


def index_records(dataset: str, records: Iterable[DatasetRecord]) -> ReplayIndex:
    records = list(records)
    models: dict[str, None] = {}
    for record in records:
        models.update(dict.fromkeys(record.answers))
    index = ReplayIndex(dataset, tuple(models))
    for record in records:
        for model, answer in record.answers.items():
            served = recorded(answer)
            if served is not None:
                index.add(record.prompt, model, served)
    return index


class Replay:
    """The `AnswerSource` the engine asks: every loaded dataset, in `--replay` order."""

    def __init__(self, indexes: Sequence[ReplayIndex]) -> None:
        keys = [i.dataset for i in indexes]
        duplicated = sorted({k for k in keys if keys.count(k) > 1})
        if duplicated:
            raise StartupError(
                f"replay: two datasets are both called {duplicated[0]!r} "
                "(a file's key is its stem; rename one)"
            )
        self.indexes = tuple(indexes)
        self.datasets = tuple(keys)

    def check_mapping(self, profiles: Mapping[str, ModelProfile]) -> None:
        for index in self.indexes:
            index.check_mapping(profiles)

    def stands_for(self, mapping: Mapping[str, str]) -> bool:
        return any(index.dataset in mapping for index in self.indexes)

    def answer_for(self, mapping: Mapping[str, str], prompt: str) -> RecordedAnswer | None:
        for index in self.indexes:
            dataset_model = mapping.get(index.dataset)
            if dataset_model:
                found = index.lookup(dataset_model, prompt)
                if found is not None:
                    return found
        return None


def load_index(source: str, data_dir: Path) -> ReplayIndex:
    """One `--replay` value: a built-in name (imported from `data_dir`) or a dataset file."""
    key = dataset_key(source)
    try:
        if source in REPLAY_DATASETS:
            records = BUILT_IN[source](data_dir)
        else:
            records = load_dataset(source)
    except DatasetError as exc:
        raise StartupError(f"replay {source}: {exc}") from exc
    return index_records(key, records)


def load_replay(sources: str | Sequence[str], data_dir: Path) -> Replay:
    """Every `--replay` value, in order; the first dataset that knows a prompt wins."""
    if isinstance(sources, str):
        sources = (sources,)
    return Replay([load_index(source, data_dir) for source in sources])
