"""The check engine: ordering, stopping, size limit, validation and reuse."""

from __future__ import annotations

import pytest

from switchyard.checks import (
    MAX_OUTPUT_CHARS,
    QUALITY_CHECK,
    SIZE_LIMIT_CHECK,
    ArtifactError,
    CheckResult,
    CheckSpec,
    Verification,
    compile_specs,
    engine,
    validate_specs,
    verify,
)
from switchyard.runtime.errors import FailedPrecondition, InvalidArgument

SPECS = [
    CheckSpec("json"),
    CheckSpec("length", {"max_chars": 5}),
    CheckSpec("non_empty"),
]


def verify_with(compiled, output: str, **kwargs):
    return compiled.verify(
        prompt="q", task_type="chat", output=output, finish_reason="stop", **kwargs
    )


def test_checks_run_cheapest_first() -> None:
    """Run order follows cost rank, not the order the specs were given in."""
    compiled = compile_specs(SPECS)
    assert compiled.order == ("non_empty", "length", "json")
    result = verify_with(compiled, "[1]")
    assert [r.name for r in result.results] == ["non_empty", "length", "json"]
    assert result.verdict == "accept" and result.score == 1.0


def test_stops_at_first_failure() -> None:
    """Without all_results the engine stops at the first failing check."""
    result = verify_with(compile_specs(SPECS), "not json at all")
    assert [(r.name, r.passed) for r in result.results] == [("non_empty", True), ("length", False)]
    assert result.verdict == "reject" and result.score == 0.0


def test_all_results_runs_everything() -> None:
    """all_results runs every check and reports each failure."""
    result = verify_with(compile_specs(SPECS), "not json at all", all_results=True)
    assert [(r.name, r.passed) for r in result.results] == [
        ("non_empty", True),
        ("length", False),
        ("json", False),
    ]
    assert len(result.failures) == 2


def test_same_rank_keeps_spec_order() -> None:
    """Two checks of equal cost run in the order the policy listed them."""
    compiled = compile_specs(
        [CheckSpec("length", {"max_chars": 9}), CheckSpec("length", {"min_chars": 1})]
    )
    result = verify_with(compiled, "", all_results=True)
    assert [r.passed for r in result.results] == [True, False]


def test_no_checks_accepts() -> None:
    """An empty check list accepts: nothing was asked."""
    result = verify_with(compile_specs([]), "")
    assert result.verdict == "accept" and result.results == ()


def test_oversized_output_is_rejected_with_reason() -> None:
    """Output over the size limit is rejected before any check reads it."""
    result = verify_with(compile_specs(SPECS), "x" * (MAX_OUTPUT_CHARS + 1))
    assert result.verdict == "reject"
    assert result.results[0].name == SIZE_LIMIT_CHECK
    assert str(MAX_OUTPUT_CHARS) in result.results[0].reason


def test_compiled_checks_are_reusable() -> None:
    """One compiled set verifies many answers independently."""
    compiled = compile_specs(SPECS)
    assert verify_with(compiled, "[1]").verdict == "accept"
    assert verify_with(compiled, "").verdict == "reject"
    assert verify_with(compiled, "[2]").verdict == "accept"


def test_validate_reports_every_problem_with_its_field() -> None:
    """validate_specs names each bad check: unknown name and bad params, one violation each."""
    with pytest.raises(InvalidArgument) as info:
        validate_specs(
            [
                CheckSpec("non_empty"),
                CheckSpec("length", {"max_chars": "lots"}),
                CheckSpec("spellcheck"),
            ]
        )
    fields = [v.field for v in info.value.violations]
    assert fields == ["checks[1].params.max_chars", "checks[2].name"]
    assert "spellcheck" in info.value.violations[1].description


def test_field_prefix_is_configurable() -> None:
    """Callers validating a policy can root the field paths at their own location."""
    with pytest.raises(InvalidArgument) as info:
        validate_specs([CheckSpec("nope")], field_prefix="rules[3].checks")
    assert info.value.violations[0].field == "rules[3].checks[0].name"


def test_min_score_without_scorer_is_a_precondition() -> None:
    """Asking for a quality gate with the scorer switched off fails loudly, not silently."""
    with pytest.raises(FailedPrecondition):
        verify_with(compile_specs([], scorer=None), "x", min_score=0.5)


def test_packaged_scorer_is_the_default() -> None:
    """Without scorer=, a quality gate uses the packaged artefact (embedded router path)."""
    result = verify_with(compile_specs([]), "#### 7", min_score=0.01)
    assert result.results[-1].name == "quality"
    assert 0.0 < result.score < 1.0


@pytest.mark.parametrize("min_score", [-0.1, 1.5, float("nan")])
def test_min_score_out_of_range(min_score: float) -> None:
    """min_score outside 0..1 is INVALID_ARGUMENT on min_score."""
    with pytest.raises(InvalidArgument) as info:
        verify_with(compile_specs([]), "x", min_score=min_score)
    assert info.value.violations[0].field == "min_score"


class FixedScorer:
    version = "fixed-1"

    def __init__(self, value: float) -> None:
        self.value = value

    def score(self, *, prompt: str, task_type: str, output: str, finish_reason: str) -> float:
        return self.value


def test_scorer_gates_after_deterministic_checks() -> None:
    """With min_score the scorer runs last and rejects below the threshold."""
    compiled = compile_specs([CheckSpec("non_empty")], scorer=FixedScorer(0.4))
    low = verify_with(compiled, "x", min_score=0.5)
    assert low.verdict == "reject" and low.score == 0.4
    assert low.results[-1].name == "quality" and "below" in low.results[-1].reason
    high = verify_with(compiled, "x", min_score=0.3)
    assert high.verdict == "accept" and high.score == 0.4


def test_scorer_skipped_after_hard_failure() -> None:
    """A deterministic failure stops before the (more expensive) scorer."""
    compiled = compile_specs([CheckSpec("non_empty")], scorer=FixedScorer(0.9))
    result = verify_with(compiled, "", min_score=0.5)
    assert [r.name for r in result.results] == ["non_empty"]
    assert result.score == 0.0


class RecordingScorer:
    """Scores every answer `value` and keeps the arguments it was called with."""

    version = "recording-1"

    def __init__(self, value: float) -> None:
        self.value = value
        self.calls: list[dict[str, str]] = []

    def score(self, *, prompt: str, task_type: str, output: str, finish_reason: str) -> float:
        self.calls.append(
            {"prompt": prompt, "task_type": task_type, "output": output, "finish": finish_reason}
        )
        return self.value


class StepClock:
    """perf_counter_ns stand-in: each read is 2.002 ms after the previous one."""

    def __init__(self) -> None:
        self.now = 10**12

    def __call__(self) -> int:
        self.now += 2_002_000
        return self.now


def test_results_record_each_check_and_its_whole_microseconds(monkeypatch) -> None:
    """Every check that ran has a result: name, passed, reason ("" when passed) and its
    duration in whole microseconds on the engine's clock; the quality step too."""
    monkeypatch.setattr(engine, "_perf_ns", StepClock())
    compiled = compile_specs(
        [CheckSpec("non_empty"), CheckSpec("length", {"max_chars": 3})],
        scorer=RecordingScorer(0.5),
    )
    accepted = verify_with(compiled, "abc", min_score=0.5)
    assert accepted == Verification(
        "accept",
        0.5,
        (
            CheckResult("non_empty", True, "", 2002),
            CheckResult("length", True, "", 2002),
            CheckResult(QUALITY_CHECK, True, "", 2002),
        ),
    )
    assert all(type(r.duration_us) is int for r in accepted.results)
    rejected = verify_with(compiled, "abcd", min_score=0.5, all_results=True)
    assert rejected == Verification(
        "reject",
        0.5,
        (
            CheckResult("non_empty", True, "", 2002),
            CheckResult("length", False, "output has 4 characters, more than max_chars 3", 2002),
            CheckResult(QUALITY_CHECK, True, "", 2002),
        ),
    )
    low = verify_with(compiled, "abc", min_score=0.6)
    assert low.results[-1] == CheckResult(
        QUALITY_CHECK, False, "quality score 0.500 is below min_score 0.600", 2002
    )
    assert low.verdict == "reject" and low.score == 0.5


def test_scorer_sees_the_answer_and_its_context() -> None:
    """The scorer is called with the prompt, task type, output and finish reason."""
    scorer = RecordingScorer(0.9)
    compiled = compile_specs([], scorer=scorer)
    compiled.verify(
        prompt="p?", task_type="math", output="o.", finish_reason="length", min_score=0.1
    )
    assert scorer.calls == [
        {"prompt": "p?", "task_type": "math", "output": "o.", "finish": "length"}
    ]


def test_score_equal_to_min_score_passes() -> None:
    """The quality gate is inclusive: a score equal to min_score is accepted, and
    min_score 1.0 is a valid (if strict) gate."""
    assert verify_with(compile_specs([], scorer=RecordingScorer(0.5)), "x", min_score=0.5).accepted
    assert verify_with(compile_specs([], scorer=RecordingScorer(1.0)), "x", min_score=1.0).accepted


def test_without_min_score_the_scorer_does_not_gate() -> None:
    """min_score 0 skips the scorer; always_score scores without gating; a failed check
    is scored only when a score is asked for (all_results or always_score)."""
    scorer = RecordingScorer(0.01)
    compiled = compile_specs([CheckSpec("non_empty")], scorer=scorer)
    plain = verify_with(compiled, "x")
    assert plain.accepted and plain.score == 1.0 and scorer.calls == []
    ranked = verify_with(compiled, "x", always_score=True)
    assert ranked.accepted and ranked.score == 0.01
    assert [r.name for r in ranked.results] == ["non_empty"]
    failed = verify_with(compiled, "", always_score=True)
    assert failed.score == 0.01 and not failed.accepted
    assert len(scorer.calls) == 2
    only_all = verify_with(compiled, "", all_results=True)
    assert only_all.score == 0.0 and len(scorer.calls) == 2


def test_min_score_messages() -> None:
    """A min_score out of range and one without a scorer say what is wrong."""
    with pytest.raises(InvalidArgument) as info:
        verify_with(compile_specs([]), "x", min_score=1.01)
    assert [(v.field, v.description) for v in info.value.violations] == [
        ("min_score", "must be within 0..1")
    ]
    with pytest.raises(
        FailedPrecondition, match=r"^min_score needs a quality scorer, and none is loaded$"
    ):
        verify_with(compile_specs([], scorer=None), "x", min_score=0.5)


def test_output_of_exactly_the_size_limit_is_checked() -> None:
    """An output of exactly MAX_OUTPUT_CHARS goes through the checks; one more character
    is rejected by the size limit alone, scored 0."""
    compiled = compile_specs([CheckSpec("non_empty")])
    assert verify_with(compiled, "x" * MAX_OUTPUT_CHARS).accepted
    over = verify_with(compiled, "x" * (MAX_OUTPUT_CHARS + 1))
    reason = f"output is {MAX_OUTPUT_CHARS + 1} characters, over the {MAX_OUTPUT_CHARS} limit"
    assert over == Verification("reject", 0.0, (CheckResult(SIZE_LIMIT_CHECK, False, reason, 0),))


def test_unavailable_packaged_scorer_is_a_precondition(monkeypatch) -> None:
    """When the packaged artefact cannot be loaded, a quality gate is FAILED_PRECONDITION
    naming the cause."""

    def broken() -> None:
        raise ArtifactError("artefact is gone")

    monkeypatch.setattr(engine, "default_scorer", broken)
    with pytest.raises(FailedPrecondition, match=r"^quality scorer unavailable: artefact is gone$"):
        verify_with(compile_specs([]), "x", min_score=0.5)


def test_compiled_checks_keep_their_specs() -> None:
    """A compiled set remembers the specs it was built from, as given."""
    specs = [CheckSpec("length", {"max_chars": 9}), CheckSpec("non_empty")]
    assert compile_specs(specs).specs == tuple(specs)


def test_same_rank_checks_run_in_spec_order_not_by_name() -> None:
    """Two checks of one cost rank run in the order the specs list them."""
    specs = [CheckSpec("length", {"max_chars": 1}), CheckSpec("length", {"min_chars": 5})]
    compiled = compile_specs(specs)
    result = verify_with(compiled, "abc", all_results=True)
    assert [r.reason for r in result.results] == [
        "output has 3 characters, more than max_chars 1",
        "output has 3 characters, fewer than min_chars 5",
    ]


def test_one_shot_verify_passes_everything_through() -> None:
    """verify() compiles and runs with the given scorer, prompt, task type, finish reason,
    all_results and min_score."""
    scorer = RecordingScorer(0.7)
    result = verify(
        prompt="p",
        task_type="math",
        output="",
        finish_reason="stop",
        specs=[CheckSpec("non_empty"), CheckSpec("length", {"min_chars": 2})],
        all_results=True,
        min_score=0.5,
        scorer=scorer,
    )
    assert [r.name for r in result.results] == ["non_empty", "length", QUALITY_CHECK]
    assert result.score == 0.7
    assert scorer.calls == [{"prompt": "p", "task_type": "math", "output": "", "finish": "stop"}]
    default = verify(
        prompt="p",
        task_type="math",
        output="",
        finish_reason="stop",
        specs=[CheckSpec("non_empty"), CheckSpec("length", {"min_chars": 2})],
    )
    assert [r.name for r in default.results] == ["non_empty"]
