"""The check engine: compile specs once, then verify answers cheapest check first.

The router calls this on every answer, so the hot path is a loop over prebuilt
functions; parameters are validated and regexes/schemas compiled in `compile_specs`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal, Protocol

from switchyard.checks.model import ACCEPT, REJECT, CheckFn, CheckResult, CheckSpec, Subject
from switchyard.checks.model import Verification as Verification
from switchyard.checks.registry import build_check
from switchyard.checks.scorer import ArtifactError, default_scorer
from switchyard.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument

# Outputs above this are rejected before any check reads them (regexes, JSON parsing).
MAX_OUTPUT_CHARS = 1024 * 1024
SIZE_LIMIT_CHECK = "output_size"
QUALITY_CHECK = "quality"


class QualityScorer(Protocol):
    """Anything that predicts P(acceptable) for an answer (see switchyard.checks.scorer)."""

    version: str

    def score(self, *, prompt: str, task_type: str, output: str, finish_reason: str) -> float: ...


# Default for `scorer=`: the packaged artefact, loaded on first use (once per process).
PACKAGED: Literal["packaged"] = "packaged"
ScorerChoice = QualityScorer | None | Literal["packaged"]

_perf_ns = time.perf_counter_ns


def _resolve(scorer: ScorerChoice) -> QualityScorer | None:
    if scorer != PACKAGED:
        return scorer  # type: ignore[return-value]
    try:
        return default_scorer()
    except ArtifactError as exc:
        raise FailedPrecondition(f"quality scorer unavailable: {exc}") from exc


class CompiledChecks:
    """Validated, ready-to-run checks; build once per policy rule and reuse."""

    __slots__ = ("_runners", "scorer", "specs")

    def __init__(
        self,
        specs: tuple[CheckSpec, ...],
        runners: tuple[tuple[str, CheckFn], ...],
        scorer: ScorerChoice,
    ) -> None:
        self.specs = specs
        self._runners = runners
        self.scorer = scorer

    @property
    def order(self) -> tuple[str, ...]:
        """Check names in the order they run."""
        return tuple(name for name, _ in self._runners)

    def verify(
        self,
        *,
        prompt: str,
        task_type: str,
        output: str,
        finish_reason: str,
        all_results: bool = False,
        min_score: float = 0.0,
        always_score: bool = False,
    ) -> Verification:
        """Run the checks on one answer.

        The scorer runs last, only when `min_score > 0` (it gates the verdict) or
        `always_score` (Rank wants a score for ordering). `score` is P(acceptable)
        when it ran, else 1.0 for ACCEPT and 0.0 for REJECT.
        """
        if not 0.0 <= min_score <= 1.0:
            raise InvalidArgument([FieldViolation("min_score", "must be within 0..1")])
        wants_score = min_score > 0.0 or always_score
        scorer = _resolve(self.scorer) if wants_score else None
        if wants_score and scorer is None:
            raise FailedPrecondition("min_score needs a quality scorer, and none is loaded")
        if len(output) > MAX_OUTPUT_CHARS:
            reason = f"output is {len(output)} characters, over the {MAX_OUTPUT_CHARS} limit"
            return Verification(REJECT, 0.0, (CheckResult(SIZE_LIMIT_CHECK, False, reason, 0),))
        subject = Subject(
            prompt=prompt, task_type=task_type, output=output, finish_reason=finish_reason
        )
        results: list[CheckResult] = []
        failed = False
        for name, run in self._runners:
            started = _perf_ns()
            reason = run(subject)
            elapsed_us = (_perf_ns() - started) // 1000
            if reason is None:
                results.append(CheckResult(name, True, "", elapsed_us))
                continue
            failed = True
            results.append(CheckResult(name, False, reason, elapsed_us))
            if not all_results:
                break
        score = 0.0 if failed else 1.0
        if scorer is not None and (not failed or all_results or always_score):
            started = _perf_ns()
            score = scorer.score(
                prompt=prompt, task_type=task_type, output=output, finish_reason=finish_reason
            )
            elapsed_us = (_perf_ns() - started) // 1000
            if min_score > 0.0:
                if score >= min_score:
                    results.append(CheckResult(QUALITY_CHECK, True, "", elapsed_us))
                else:
                    failed = True
                    reason = f"quality score {score:.3f} is below min_score {min_score:.3f}"
                    results.append(CheckResult(QUALITY_CHECK, False, reason, elapsed_us))
        return Verification(REJECT if failed else ACCEPT, score, tuple(results))


def compile_specs(
    specs: Sequence[CheckSpec],
    *,
    field_prefix: str = "checks",
    scorer: ScorerChoice = PACKAGED,
) -> CompiledChecks:
    """Validate every spec and build the run order (cost rank, then spec order).

    `scorer` is used only when a verify asks for a score (min_score > 0 or
    always_score): by default the packaged artefact, loaded on first use; None means
    no scorer (such a verify is FailedPrecondition).

    Raises InvalidArgument with one violation per problem, each naming the check
    and its field, e.g. "checks[1].params.max_chars".
    """
    violations: list[FieldViolation] = []
    ranked: list[tuple[int, int, str, CheckFn]] = []
    for index, spec in enumerate(specs):
        definition, run, problems = build_check(spec, f"{field_prefix}[{index}]")
        violations.extend(problems)
        if definition is not None and run is not None:
            ranked.append((definition.cost_rank, index, definition.name, run))
    if violations:
        raise InvalidArgument(violations)
    ranked.sort(key=lambda item: (item[0], item[1]))
    runners = tuple((name, run) for _, _, name, run in ranked)
    return CompiledChecks(tuple(specs), runners, scorer)


def validate_specs(specs: Sequence[CheckSpec], *, field_prefix: str = "checks") -> None:
    """Raise InvalidArgument naming each bad check; return None when all are valid."""
    compile_specs(specs, field_prefix=field_prefix)


def verify(
    *,
    prompt: str,
    task_type: str,
    output: str,
    finish_reason: str,
    specs: Sequence[CheckSpec],
    all_results: bool = False,
    min_score: float = 0.0,
    scorer: ScorerChoice = PACKAGED,
) -> Verification:
    """One-shot convenience: compile `specs` and verify. Hot paths cache compile_specs."""
    return compile_specs(specs, scorer=scorer).verify(
        prompt=prompt,
        task_type=task_type,
        output=output,
        finish_reason=finish_reason,
        all_results=all_results,
        min_score=min_score,
    )
