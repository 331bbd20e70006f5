"""The check engine: ordering, stopping, size limit, validation and reuse."""

from __future__ import annotations

import pytest

from switchyard.checks import (
    MAX_OUTPUT_CHARS,
    SIZE_LIMIT_CHECK,
    CheckSpec,
    compile_specs,
    validate_specs,
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
