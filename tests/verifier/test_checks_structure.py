"""Unit tests for json_schema, truncation and final_answer."""

from __future__ import annotations

import pytest

from switchyard.checks import CheckSpec, compile_specs, verify
from switchyard.checks.structure import (
    boxed_answer,
    gsm8k_answer,
    truncation_reason,
    unclosed_json,
)
from switchyard.runtime.errors import InvalidArgument

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name"],
    "additionalProperties": False,
}


def run(output: str, name: str, params: dict | None = None, finish_reason: str = "stop"):
    return verify(
        prompt="q",
        task_type="chat",
        output=output,
        finish_reason=finish_reason,
        specs=[CheckSpec(name, params or {})],
    )


# --- json_schema -----------------------------------------------------------------------


def test_json_schema_accepts_valid_document() -> None:
    """A document that satisfies the schema passes."""
    assert run('{"name": "Ada", "age": 36}', "json_schema", {"schema": SCHEMA}).verdict == "accept"


@pytest.mark.parametrize(
    ("output", "fragment"),
    [
        ('{"age": 3}', "'name' is a required property"),
        ('{"name": "Ada", "age": -1}', "$.age"),
        ('{"name": "Ada", "extra": 1}', "Additional properties"),
        ("[1, 2]", "is not of type 'object'"),
        ("not json", "not valid JSON"),
    ],
)
def test_json_schema_rejects_with_path(output: str, fragment: str) -> None:
    """A mismatch rejects with the failing path and the validator's message."""
    result = run(output, "json_schema", {"schema": SCHEMA})
    assert result.verdict == "reject"
    assert fragment in result.results[0].reason


def test_json_schema_struct_numbers() -> None:
    """Schemas arriving through protobuf Struct carry floats (maxLength 3.0) and still work."""
    schema = {"type": "string", "maxLength": 3.0}
    assert run('"abc"', "json_schema", {"schema": schema}).verdict == "accept"
    assert run('"abcd"', "json_schema", {"schema": schema}).verdict == "reject"


@pytest.mark.parametrize(
    "params",
    [
        {"schema": {"type": "objekt"}},
        {"schema": {"properties": {"a": {"minimum": "zero"}}}},
        {"schema": "not a schema"},
        {},
    ],
)
def test_json_schema_invalid_schema(params: dict) -> None:
    """An invalid or missing schema is INVALID_ARGUMENT on checks[0].params.schema."""
    with pytest.raises(InvalidArgument) as info:
        compile_specs([CheckSpec("json_schema", params)])
    fields = {v.field: v.description for v in info.value.violations}
    assert "checks[0].params.schema" in fields
    assert "'json_schema'" in fields["checks[0].params.schema"]


# --- truncation ------------------------------------------------------------------------


def test_truncation_finish_reason_length() -> None:
    """finish_reason 'length' means the model was cut off."""
    result = run("A complete-looking sentence.", "truncation", finish_reason="length")
    assert result.verdict == "reject" and "'length'" in result.results[0].reason


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("Here:\n```python\nprint(1)\n", "unclosed code block"),
        ('{"items": [1, 2, 3', "unclosed JSON"),
        ('{"text": "he said \\"hi', "unclosed JSON"),
        ("[[1], [2]", "unclosed JSON"),
    ],
)
def test_truncation_unclosed_structures(output: str, reason: str) -> None:
    """Unclosed fences, brackets and strings are truncation."""
    result = run(output, "truncation")
    assert result.verdict == "reject" and reason in result.results[0].reason


@pytest.mark.parametrize(
    "output",
    [
        "Here:\n```python\nprint(1)\n```\nDone.",
        '{"text": "braces { and [ in strings", "n": [1, 2]}',
        "Plain prose with a { brace.",
    ],
)
def test_truncation_complete_outputs(output: str) -> None:
    """Closed structures and braces inside strings or prose are not truncation."""
    assert run(output, "truncation").verdict == "accept"


def test_truncation_parts_can_be_disabled() -> None:
    """json=false / code_blocks=false turn off the structural checks."""
    params = {"json": False, "code_blocks": False}
    assert run('```\n{"a": [', "truncation", params).verdict == "accept"


# --- final_answer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "params", "verdict"),
    [
        ("3 + 4 = 7\n#### 7", {}, "accept"),
        ("3 + 4 = 7\n#### 7\n\n", {}, "accept"),
        ("#### $1,250.50", {}, "accept"),
        ("#### -3", {}, "accept"),
        ("#### 7 apples", {}, "accept"),
        ("#### 7 apples", {"strict": True}, "reject"),
        ("#### seven", {}, "reject"),
        ("#### 7\nHope this helps!", {}, "reject"),  # not the last line
        ("The answer is 7.", {}, "reject"),
        ("so \\boxed{42}", {"style": "boxed"}, "accept"),
        ("so \\boxed{\\frac{1}{2}}", {"style": "boxed"}, "reject"),
        ("so \\boxed{\\frac{1}{2}}", {"style": "boxed", "numeric": False}, "accept"),
        ("so \\boxed{42}", {"style": "any"}, "accept"),
        ("#### 42", {"style": "any"}, "accept"),
        ("#### 42", {"style": "boxed"}, "reject"),
    ],
)
def test_final_answer_formats(output: str, params: dict, verdict: str) -> None:
    """GSM8K '#### <number>' and \\boxed{} answers are recognised per style."""
    assert run(output, "final_answer", params).verdict == verdict


def test_final_answer_reason_says_what_is_missing() -> None:
    """The reason says which format was expected."""
    result = run("The answer is 7.", "final_answer", {"style": "gsm8k"})
    assert result.results[0].reason == "output lacks a final '#### <number>' line"


def test_final_answer_bad_style() -> None:
    """An unknown style is INVALID_ARGUMENT on style."""
    with pytest.raises(InvalidArgument) as info:
        compile_specs([CheckSpec("final_answer", {"style": "latex"})])
    assert info.value.violations[0].field == "checks[0].params.style"


# --- the helpers the checks and the scorer's features share --------------------------------


@pytest.mark.parametrize(
    ("text", "unclosed"),
    [
        ('{"a": 1', True),
        ("[1, 2", True),
        ('{"a": "x}', True),  # the string never closes, though the braces balance
        ('{"a": "}"}', False),  # braces inside strings do not count
        ('{"a": [1, 2]}', False),
        ("XYZ {", False),  # not a JSON value at all
        ("", False),
    ],
)
def test_unclosed_json(text: str, unclosed: bool) -> None:
    """An object or array that never closes, or a string that never ends, is unclosed."""
    assert unclosed_json(text) is unclosed


OPEN_BLOCK = "output ends inside an unclosed code block"


@pytest.mark.parametrize(
    ("fences", "reason"), [(1, OPEN_BLOCK), (2, None), (3, OPEN_BLOCK), (4, None)]
)
def test_code_blocks_are_closed_by_pairs_of_fences(fences: int, reason: str | None) -> None:
    """An odd number of fence lines leaves a code block open."""
    output = "\n".join(["```python", "x = 1"] * fences)
    assert truncation_reason(output, "stop", json=True, code=True) == reason


def test_truncation_reasons_say_what_is_cut() -> None:
    """Each kind of truncation has its own reason."""
    assert truncation_reason("ok", "length", json=True, code=True) == (
        "finish_reason is 'length': the model stopped at its token limit"
    )
    assert truncation_reason('{"a": 1', "stop", json=True, code=True) == (
        "output ends inside an unclosed JSON value"
    )


def test_gsm8k_answer_reads_the_last_line_loosely_by_default() -> None:
    """The number on the last '####' line, after any number of lines; units are tolerated
    unless strict."""
    assert gsm8k_answer("step 1\nstep 2\n#### 18\n\n") == "18"
    assert gsm8k_answer("#### 18 dollars") == "18"
    assert gsm8k_answer("#### 18 dollars", strict=True) is None
    assert gsm8k_answer("#### 18\nthanks") is None


def test_boxed_answer_is_the_last_box() -> None:
    """With several \\boxed{...}, the last one is the answer; none gives None."""
    assert boxed_answer(r"first \boxed{1}, finally \boxed{ 2 }") == "2"
    assert boxed_answer("no box") is None


def test_truncation_parts_are_disabled_one_at_a_time() -> None:
    """json=false leaves code blocks checked, code_blocks=false leaves JSON checked."""
    assert run('{"a": [', "truncation", {"json": False}).verdict == "accept"
    assert run("```\nx", "truncation", {"json": False}).verdict == "reject"
    assert run("```\nx", "truncation", {"code_blocks": False}).verdict == "accept"
    assert run('{"a": [', "truncation", {"code_blocks": False}).verdict == "reject"


def test_final_answer_unknown_style_lists_the_styles() -> None:
    """An unknown style is refused with the styles there are."""
    with pytest.raises(InvalidArgument) as info:
        compile_specs([CheckSpec("final_answer", {"style": "roman"})])
    assert [(v.field, v.description) for v in info.value.violations] == [
        (
            "checks[0].params.style",
            "check 'final_answer': must be one of gsm8k, boxed, any; got 'roman'",
        )
    ]


def test_json_schema_parameter_problems_are_described() -> None:
    """A missing schema and an invalid one (with where it is invalid) say what to fix."""
    for params, description in (
        ({}, "check 'json_schema': required"),
        (
            {"schema": {"type": "object", "properties": {"a": {"type": "strng"}}}},
            "check 'json_schema': invalid JSON Schema at 'properties/a/type': 'strng' is not"
            " valid under any of the given schemas",
        ),
    ):
        with pytest.raises(InvalidArgument) as info:
            compile_specs([CheckSpec("json_schema", params)])
        assert [(v.field, v.description) for v in info.value.violations] == [
            ("checks[0].params.schema", description)
        ]


@pytest.mark.parametrize(
    ("style", "reason"),
    [
        ("boxed", "output lacks a \\boxed{...} answer"),
        ("any", "output lacks a final '#### <number>' line or a \\boxed{...} answer"),
    ],
)
def test_final_answer_reason_per_style(style: str, reason: str) -> None:
    """Each style's reason names the format it expected."""
    assert run("The answer is 7.", "final_answer", {"style": style}).results[0].reason == reason


def test_non_numeric_boxed_answer_is_quoted_up_to_40_characters() -> None:
    """A boxed answer that is not a number is quoted in the reason, cut at 40 characters."""
    text = "so \\boxed{" + "abcdefghij" * 5 + "}"
    reason = run(text, "final_answer", {"style": "boxed"}).results[0].reason
    assert reason == f"boxed answer {'abcdefghij' * 4!r} is not a number"
