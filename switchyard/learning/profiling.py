"""Profiling: what each model's answers to a labelled dataset are worth, per task type.

Pure: no network, no gRPC. The live runner (`profile_live`) and the offline path turn
each (record, model) into one `Observation`; `summarize` aggregates them into the
figures `switchyard profile` prints and writes to the registry (docs/profiling.md):

* quality: the mean per-request quality in [0, 1]. An answer is scored by the dataset
  label when it *is* a recorded answer to that prompt (same text after stripping
  whitespace: what the simulator serves in replay mode), otherwise by the verifier's
  verdict (accept 1, reject 0) from the embedded checks. A call that produced no answer scores 0, so
  quality is P(acceptable answer per request), what the router's planner reads.
* cost per request from the reply's token counts at the registry's prices;
* latency percentiles over answered calls (nearest rank);
* failure modes: timeout, error, malformed, refusal, truncation, empty.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from switchyard.checks import CheckSpec, CompiledChecks, compile_specs
from switchyard.learning.dataset import DatasetRecord, ModelAnswer, cost_micros_for
from switchyard.learning.stats import nearest_rank
from switchyard.policy import CheckRef, Policy, RequestFacts
from switchyard.tokens import estimate_prompt_tokens

# Without a policy, an answer is acceptable when it is there, complete and no refusal.
DEFAULT_CHECKS: tuple[CheckRef, ...] = (
    CheckRef("non_empty"),
    CheckRef("truncation"),
    CheckRef("refusal"),
)


class FailureMode(enum.Enum):
    TIMEOUT = "timeout"
    # HTTP errors, rate limits, refused or reset connections.
    ERROR = "error"
    # A 200 whose body is not a completion.
    MALFORMED = "malformed"
    REFUSAL = "refusal"
    # Stopped at the token limit (finish_reason "length"), or visibly cut short.
    TRUNCATION = "truncation"
    EMPTY = "empty"


class QualitySource(enum.Enum):
    LABEL = "label"
    VERIFIER = "verifier"
    # No answer to judge (timeout, error, malformed): quality 0.
    NO_ANSWER = "no_answer"


@dataclass(frozen=True)
class Judgement:
    quality: float
    source: QualitySource
    failure: FailureMode | None = None


@dataclass(frozen=True)
class Observation:
    """One model's handling of one dataset record."""

    model_id: str
    task_type: str
    record_id: str
    quality: float
    source: QualitySource
    cost_micros: int
    # Answered calls only; None offline when the dataset recorded no latency.
    latency_ms: float | None
    answered: bool
    failure: FailureMode | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    # Why a call failed (status code, parse error, ...), as the adapter reported it.
    detail: str = ""


# -- judging answers -----------------------------------------------------------------


def _facts(record: DatasetRecord) -> RequestFacts:
    return RequestFacts(
        task_type=record.task_type,
        tier=record.tier,
        # The router's own estimate, so rules match here as they do live.
        prompt_tokens=estimate_prompt_tokens([m.content for m in record.messages]),
        metadata=record.metadata,
    )


def recorded_label(record: DatasetRecord, text: str, dataset_model: str | None) -> float | None:
    """The label of the recorded answer whose text `text` is (whitespace at the ends
    aside): the dataset model's own answer first, else any model's answer to the record
    (a label belongs to the answer, whoever gave it). None when no recorded answer is it."""
    wanted = text.strip()
    preferred = record.answers.get(dataset_model) if dataset_model else None
    for recorded in (preferred, *record.answers.values()):
        if recorded is not None and recorded.answer is not None:
            if recorded.answer.strip() == wanted:
                return recorded.quality
    return None


class AnswerJudge:
    """Scores one served answer: its label when it is the recorded answer, else the
    verifier's verdict with the policy rule's checks (or `DEFAULT_CHECKS`)."""

    def __init__(self, *, policy: Policy | None = None) -> None:
        self._policy = policy
        self._compiled: dict[tuple[CheckRef, ...], CompiledChecks] = {}
        self._refusal = compile_specs([CheckSpec("refusal")], scorer=None)
        self._truncation = compile_specs([CheckSpec("truncation")], scorer=None)

    def _checks(self, checks: tuple[CheckRef, ...]) -> CompiledChecks:
        compiled = self._compiled.get(checks)
        if compiled is None:
            specs = [CheckSpec(c.name, dict(c.params)) for c in checks]
            compiled = self._compiled[checks] = compile_specs(specs)
        return compiled

    def failure_of(
        self, record: DatasetRecord, text: str, finish_reason: str
    ) -> FailureMode | None:
        """The failure mode an answered call shows, if any (checked in this order)."""
        if finish_reason == "length":
            return FailureMode.TRUNCATION
        if not text.strip():
            return FailureMode.EMPTY
        kwargs = {
            "prompt": record.prompt,
            "task_type": record.task_type,
            "output": text,
            "finish_reason": finish_reason,
        }
        if self._refusal.verify(**kwargs).verdict != "accept":
            return FailureMode.REFUSAL
        if self._truncation.verify(**kwargs).verdict != "accept":
            return FailureMode.TRUNCATION
        return None

    def judge(
        self,
        record: DatasetRecord,
        text: str,
        finish_reason: str,
        *,
        dataset_model: str | None = None,
    ) -> Judgement:
        """A live answer: the label if it is a recorded answer, else the verdict."""
        failure = self.failure_of(record, text, finish_reason)
        label = None if finish_reason == "length" else recorded_label(record, text, dataset_model)
        if label is not None:
            return Judgement(label, QualitySource.LABEL, failure)
        if self._policy is not None:
            rule = self._policy.match(_facts(record))
            checks, min_score = rule.checks or DEFAULT_CHECKS, rule.min_score
        else:
            checks, min_score = DEFAULT_CHECKS, 0.0
        verdict = self._checks(checks).verify(
            prompt=record.prompt,
            task_type=record.task_type,
            output=text,
            finish_reason=finish_reason,
            min_score=min_score,
        )
        accepted = verdict.verdict == "accept"
        return Judgement(1.0 if accepted else 0.0, QualitySource.VERIFIER, failure)

    def judge_recorded(self, record: DatasetRecord, recorded: ModelAnswer) -> Judgement:
        """Offline: the label decides; failure modes only where the text shows them."""
        failure = None
        if recorded.answer is not None:
            failure = self.failure_of(record, recorded.answer, "stop")
        return Judgement(recorded.quality, QualitySource.LABEL, failure)


# -- aggregation ---------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """What was measured for one model, over one task type or over all of them."""

    requests: int
    answered: int
    quality: float
    # How many quality values came from dataset labels (the rest: verifier, or 0).
    labelled: int
    cost_micros_total: int
    latencies_ms: tuple[float, ...]
    failures: Mapping[FailureMode, int] = field(default_factory=dict)

    @property
    def mean_cost_micros(self) -> float:
        return self.cost_micros_total / self.requests if self.requests else 0.0

    def latency_ms(self, p: float) -> float | None:
        return nearest_rank(self.latencies_ms, p) if self.latencies_ms else None

    def failure_count(self, mode: FailureMode) -> int:
        return self.failures.get(mode, 0)

    def failure_rate(self, mode: FailureMode) -> float:
        return self.failure_count(mode) / self.requests if self.requests else 0.0


def figures(observations: Iterable[Observation]) -> Figures:
    items = list(observations)
    latencies = sorted(o.latency_ms for o in items if o.latency_ms is not None)
    failures = Counter(o.failure for o in items if o.failure is not None)
    return Figures(
        requests=len(items),
        answered=sum(o.answered for o in items),
        quality=sum(o.quality for o in items) / len(items) if items else 0.0,
        labelled=sum(o.source is QualitySource.LABEL for o in items),
        cost_micros_total=sum(o.cost_micros for o in items),
        latencies_ms=tuple(latencies),
        failures={mode: failures[mode] for mode in FailureMode if failures[mode]},
    )


@dataclass(frozen=True)
class ModelSummary:
    model_id: str
    # The dataset model whose answers' labels come first; None: any model's.
    dataset_model: str | None
    overall: Figures
    by_task: Mapping[str, Figures]
    # The first failed call's detail, so "nothing answered" can say why.
    first_failure: str = ""

    @property
    def measured(self) -> bool:
        """At least one answered call: without one there is nothing true to write."""
        return self.overall.answered > 0


def summarize(
    observations: Iterable[Observation],
    models: Sequence[str],
    dataset_models: Mapping[str, str | None],
) -> list[ModelSummary]:
    """One summary per model, in the order given; tasks in name order."""
    by_model: dict[str, list[Observation]] = {m: [] for m in models}
    for o in observations:
        by_model[o.model_id].append(o)
    summaries = []
    for model in models:
        items = by_model[model]
        tasks: dict[str, list[Observation]] = {}
        for o in items:
            tasks.setdefault(o.task_type, []).append(o)
        summaries.append(
            ModelSummary(
                model_id=model,
                dataset_model=dataset_models.get(model),
                overall=figures(items),
                by_task={task: figures(tasks[task]) for task in sorted(tasks)},
                first_failure=next((o.detail for o in items if o.detail), ""),
            )
        )
    return summaries


def measure_offline(
    records: Iterable[DatasetRecord],
    *,
    model_id: str,
    dataset_model: str,
    input_micros_per_mtok: int,
    output_micros_per_mtok: int,
    judge: AnswerJudge,
) -> list[Observation]:
    """Observations from the recorded fields alone; records the model did not answer
    are left out (they are no sample of it)."""
    observations = []
    for record in records:
        recorded = record.answers.get(dataset_model)
        if recorded is None:
            continue
        judgement = judge.judge_recorded(record, recorded)
        observations.append(
            Observation(
                model_id=model_id,
                task_type=record.task_type,
                record_id=record.id,
                quality=judgement.quality,
                source=judgement.source,
                cost_micros=cost_micros_for(
                    recorded,
                    input_micros_per_mtok=input_micros_per_mtok,
                    output_micros_per_mtok=output_micros_per_mtok,
                ),
                latency_ms=recorded.latency_ms,
                answered=True,
                failure=judgement.failure,
                input_tokens=recorded.input_tokens,
                output_tokens=recorded.output_tokens,
            )
        )
    return observations
