"""Structure checks: JSON Schema, truncation, and the final-answer format."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError, best_match

from switchyard.checks.model import CheckFn, Subject
from switchyard.checks.registry import BOOL, OBJECT, STRING, Param, ParamError, check


def json_schema(params: Mapping[str, Any]) -> CheckFn:
    if "schema" not in params:
        raise ParamError("schema", "required")
    schema = dict(params["schema"])
    validator_cls = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft202012Validator
    )
    try:
        validator_cls.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        raise ParamError("schema", f"invalid JSON Schema at '{where}': {exc.message}") from exc
    validator = validator_cls(schema)

    def run(subject: Subject) -> str | None:
        value, problem = subject.parsed_json()
        if problem is not None:
            return problem
        try:
            error = best_match(validator.iter_errors(value))
        except jsonschema.exceptions.JSONSchemaError as exc:  # e.g. an unresolvable $ref
            return f"schema could not be applied: {exc}"
        if error is None:
            return None
        return f"JSON does not match the schema at {error.json_path}: {error.message}"

    return run


check(
    "json_schema",
    description="The output is JSON that validates against the given JSON Schema.",
    cost_rank=20,
    params=(
        Param("schema", OBJECT, "The JSON Schema (its $schema picks the draft; default 2020-12)."),
    ),
)(json_schema)


# A fence line opens or closes a fenced code block (``` or ~~~, any info string).
FENCE = re.compile(r"^[ \t]{0,3}(?:```|~~~)", re.MULTILINE)
JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def unclosed_json(text: str) -> bool:
    """True when text opens a JSON object/array (or string) that never closes."""
    body = text.strip()
    if not body or body[0] not in "{[":
        return False
    without_strings = JSON_STRING.sub("", body)
    if '"' in without_strings:
        return True  # a string that never closes
    opened = without_strings.count("{") + without_strings.count("[")
    closed = without_strings.count("}") + without_strings.count("]")
    return opened > closed


def truncation_reason(output: str, finish_reason: str, *, json: bool, code: bool) -> str | None:
    if finish_reason == "length":
        return "finish_reason is 'length': the model stopped at its token limit"
    if code and len(FENCE.findall(output)) % 2 == 1:
        return "output ends inside an unclosed code block"
    if json and unclosed_json(output):
        return "output ends inside an unclosed JSON value"
    return None


def truncation(params: Mapping[str, Any]) -> CheckFn:
    check_json: bool = params.get("json", True)
    check_code: bool = params.get("code_blocks", True)

    def run(subject: Subject) -> str | None:
        return truncation_reason(
            subject.output, subject.finish_reason, json=check_json, code=check_code
        )

    return run


check(
    "truncation",
    description=(
        "The output is complete: finish_reason is not 'length', and no code block or "
        "JSON value is left open."
    ),
    cost_rank=2,
    params=(
        Param("json", BOOL, "Look for an unclosed JSON object/array (default true)."),
        Param("code_blocks", BOOL, "Look for an unclosed ``` code block (default true)."),
    ),
)(truncation)


NUMBER = r"-?\$?\s?\d[\d,]*(?:\.\d+)?"
# GSM8K: the last non-blank line is "#### <number>" (units or a trailing period tolerated
# only when `strict` is off).
GSM8K_STRICT = re.compile(rf"^####\s*({NUMBER})\s*$")
GSM8K_LOOSE = re.compile(rf"^####\s*({NUMBER})\b")
BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
NUMERIC = re.compile(rf"^\s*{NUMBER}\s*$")
STYLES = ("gsm8k", "boxed", "any")


def _last_line(text: str) -> str:
    stripped = text.rstrip()
    return stripped[stripped.rfind("\n") + 1 :].strip()


def gsm8k_answer(text: str, *, strict: bool = False) -> str | None:
    """The number on a final '#### <number>' line, or None."""
    found = (GSM8K_STRICT if strict else GSM8K_LOOSE).match(_last_line(text))
    return found.group(1) if found else None


def boxed_answer(text: str) -> str | None:
    """The content of the last \\boxed{...}, or None."""
    last = None
    for last in BOXED.finditer(text):  # noqa: B007  (we want the last match)
        continue
    return last.group(1).strip() if last else None


def final_answer(params: Mapping[str, Any]) -> CheckFn:
    style: str = params.get("style", "gsm8k")
    if style not in STYLES:
        raise ParamError("style", f"must be one of {', '.join(STYLES)}; got {style!r}")
    numeric: bool = params.get("numeric", True)
    strict: bool = params.get("strict", False)

    def run(subject: Subject) -> str | None:
        text = subject.output
        if style in ("gsm8k", "any"):
            if gsm8k_answer(text, strict=strict) is not None:
                return None
        if style in ("boxed", "any"):
            boxed = boxed_answer(text)
            if boxed is not None and (not numeric or NUMERIC.match(boxed)):
                return None
            if boxed is not None:
                return f"boxed answer {boxed[:40]!r} is not a number"
        wanted = {
            "gsm8k": "a final '#### <number>' line",
            "boxed": "a \\boxed{...} answer",
            "any": "a final '#### <number>' line or a \\boxed{...} answer",
        }[style]
        return f"output lacks {wanted}"

    return run


check(
    "final_answer",
    description=(
        "The output ends with a final answer in the expected format: GSM8K's "
        "'#### <number>' line, a LaTeX \\boxed{...}, or either."
    ),
    cost_rank=5,
    params=(
        Param("style", STRING, "gsm8k, boxed or any (default gsm8k)."),
        Param("numeric", BOOL, "The answer must be a number (default true)."),
        Param("strict", BOOL, "gsm8k: nothing but the number on the #### line (default false)."),
    ),
)(final_answer)
