"""Unit tests for the phase-one checks: non_empty, length, json."""

from __future__ import annotations

import pytest

from switchyard.checks import CheckSpec, compile_specs, verify
from switchyard.runtime.errors import InvalidArgument


def run(output: str, *specs: CheckSpec, finish_reason: str = "stop"):
    return verify(
        prompt="q", task_type="chat", output=output, finish_reason=finish_reason, specs=specs
    )


def violations(*specs: CheckSpec) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as info:
        compile_specs(specs)
    return {v.field: v.description for v in info.value.violations}


@pytest.mark.parametrize("output", ["", "   ", "\n\t "])
def test_non_empty_rejects_blank(output: str) -> None:
    """Empty or whitespace-only output fails non_empty with a reason."""
    result = run(output, CheckSpec("non_empty"))
    assert result.verdict == "reject"
    assert result.results[0].name == "non_empty"
    assert "empty" in result.results[0].reason or "whitespace" in result.results[0].reason


def test_non_empty_accepts_text() -> None:
    """Any visible character passes non_empty."""
    assert run(" x ", CheckSpec("non_empty")).verdict == "accept"


def test_non_empty_takes_no_params() -> None:
    """Parameters a check does not declare are refused, naming the field."""
    assert "checks[0].params.min" in violations(CheckSpec("non_empty", {"min": 1}))


@pytest.mark.parametrize(
    ("output", "params", "verdict"),
    [
        ("abcd", {"min_chars": 4}, "accept"),
        ("abc", {"min_chars": 4}, "reject"),
        ("abcd", {"max_chars": 4}, "accept"),
        ("abcde", {"max_chars": 4}, "reject"),
        ("a" * 8, {"max_tokens": 2}, "accept"),
        ("a" * 9, {"max_tokens": 2}, "reject"),  # ceil(9 / 4) = 3 tokens
        ("abcd", {"min_chars": 2, "max_chars": 6, "max_tokens": 1}, "accept"),
    ],
)
def test_length_bounds(output: str, params: dict, verdict: str) -> None:
    """Length compares characters and ~4-chars-per-token estimates inclusively."""
    assert run(output, CheckSpec("length", params)).verdict == verdict


def test_length_reason_names_the_bound() -> None:
    """A length failure says which bound was broken and by how much."""
    result = run("abcdef", CheckSpec("length", {"max_chars": 4}))
    assert result.results[0].reason == "output has 6 characters, more than max_chars 4"


def test_length_accepts_struct_style_floats() -> None:
    """protobuf Struct sends 2000 as 2000.0; integral floats are read as ints."""
    assert run("abc", CheckSpec("length", {"max_chars": 2000.0})).verdict == "accept"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"max_chars": 1.5}, "checks[0].params.max_chars"),
        ({"max_chars": "10"}, "checks[0].params.max_chars"),
        ({"max_chars": True}, "checks[0].params.max_chars"),
        ({"max_chars": -1}, "checks[0].params.max_chars"),
        ({"min_chars": 5, "max_chars": 2}, "checks[0].params.min_chars"),
        ({}, "checks[0].params"),
    ],
)
def test_length_bad_params(params: dict, field: str) -> None:
    """Bad length parameters are INVALID_ARGUMENT naming the check and the field."""
    found = violations(CheckSpec("length", params))
    assert field in found
    assert "'length'" in found[field]


@pytest.mark.parametrize("output", ['{"a": [1, 2]}', "[]", "3", '"s"', "null", ' {"a":1} '])
def test_json_accepts_documents(output: str) -> None:
    """Any single JSON document passes, surrounding whitespace allowed."""
    assert run(output, CheckSpec("json")).verdict == "accept"


@pytest.mark.parametrize("output", ["{", "{'a': 1}", '{"a": 1} trailing', "NaN", '{"x": Infinity}'])
def test_json_rejects_invalid(output: str) -> None:
    """Malformed JSON, trailing text and non-standard constants fail with a reason."""
    result = run(output, CheckSpec("json"))
    assert result.verdict == "reject"
    assert result.results[0].reason.startswith("not valid JSON")


def test_json_deeply_nested_does_not_crash() -> None:
    """Nesting past the parser's recursion limit is a reject, not a crash."""
    result = run("[" * 100_000 + "]" * 100_000, CheckSpec("json"))
    assert result.verdict == "reject"
    assert result.results[0].reason == "not valid JSON: nested too deeply"


@pytest.mark.parametrize(
    ("output", "reason"), [("", "output is empty"), (" \n\t", "output is only whitespace")]
)
def test_non_empty_says_which_kind_of_blank(output: str, reason: str) -> None:
    """non_empty tells an empty output from a whitespace-only one."""
    assert run(output, CheckSpec("non_empty")).results[0].reason == reason


@pytest.mark.parametrize(
    ("output", "params", "reason"),
    [
        ("abc", {"min_chars": 5}, "output has 3 characters, fewer than min_chars 5"),
        ("abcdef", {"min_chars": 1, "max_chars": 4}, "output has 6 characters, more than max_chars 4"),  # noqa: E501
        ("a" * 9, {"max_tokens": 2}, "output has ~3 estimated tokens, more than max_tokens 2"),
        ("a" * 9, {"max_chars": 9, "max_tokens": 3}, None),
        ("abc", {"min_chars": 3, "max_chars": 3}, None),
        ("", {"min_chars": 0}, None),
    ],
)  # fmt: skip
def test_length_reasons_and_inclusive_bounds(output: str, params: dict, reason) -> None:
    """Each length bound has its own reason; every bound is inclusive, zero included."""
    result = run(output, CheckSpec("length", params))
    assert (result.results[0].reason or None) == reason


def test_length_parameter_problems_are_described() -> None:
    """No bound at all, or min_chars above max_chars, say what to fix; equal bounds are fine."""
    assert violations(CheckSpec("length", {})) == {
        "checks[0].params": "check 'length': give at least one of min_chars, max_chars, max_tokens"
    }
    assert violations(CheckSpec("length", {"min_chars": 5, "max_chars": 4})) == {
        "checks[0].params.min_chars": "check 'length': min_chars 5 is above max_chars 4"
    }
    compile_specs([CheckSpec("length", {"min_chars": 4, "max_chars": 4})])
