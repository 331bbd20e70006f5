"""Phase-one checks: non-empty, length bounds and valid JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchyard.checks.model import CheckFn, Subject
from switchyard.checks.registry import INT, Param, ParamError, check
from switchyard.tasks import estimate_tokens


def non_empty(params: Mapping[str, Any]) -> CheckFn:
    def run(subject: Subject) -> str | None:
        if subject.output and not subject.output.isspace():
            return None
        return "output is empty" if not subject.output else "output is only whitespace"

    return run


check(
    "non_empty",
    description="The output holds at least one non-whitespace character.",
    cost_rank=0,
)(non_empty)


def length(params: Mapping[str, Any]) -> CheckFn:
    min_chars: int | None = params.get("min_chars")
    max_chars: int | None = params.get("max_chars")
    max_tokens: int | None = params.get("max_tokens")
    if min_chars is None and max_chars is None and max_tokens is None:
        raise ParamError("", "give at least one of min_chars, max_chars, max_tokens")
    if min_chars is not None and max_chars is not None and min_chars > max_chars:
        raise ParamError("min_chars", f"min_chars {min_chars} is above max_chars {max_chars}")

    def run(subject: Subject) -> str | None:
        chars = len(subject.output)
        if min_chars is not None and chars < min_chars:
            return f"output has {chars} characters, fewer than min_chars {min_chars}"
        if max_chars is not None and chars > max_chars:
            return f"output has {chars} characters, more than max_chars {max_chars}"
        if max_tokens is not None:
            tokens = estimate_tokens(subject.output)
            if tokens > max_tokens:
                return f"output has ~{tokens} estimated tokens, more than max_tokens {max_tokens}"
        return None

    return run


check(
    "length",
    description="Output length within bounds, in characters and estimated tokens (~4 chars).",
    cost_rank=1,
    params=(
        Param("min_chars", INT, "Fewest characters allowed.", minimum=0),
        Param("max_chars", INT, "Most characters allowed.", minimum=0),
        Param("max_tokens", INT, "Most estimated tokens allowed (ceil(chars / 4)).", minimum=0),
    ),
)(length)


def json_document(params: Mapping[str, Any]) -> CheckFn:
    def run(subject: Subject) -> str | None:
        return subject.parsed_json()[1]

    return run


check("json", description="The output is one valid JSON document.", cost_rank=10)(json_document)
