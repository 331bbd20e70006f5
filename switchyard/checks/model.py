"""The values the check engine speaks: specs in, results and verifications out."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

ACCEPT: Literal["accept"] = "accept"
REJECT: Literal["reject"] = "reject"
VerdictName = Literal["accept", "reject"]


@dataclass(frozen=True)
class CheckSpec:
    """One check to run, by registry name, with its parameters (e.g. {"max_chars": 2000})."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


class CheckResult(NamedTuple):
    """What one check concluded. A NamedTuple: built on every check of every answer."""

    name: str
    passed: bool
    reason: str
    duration_us: int


@dataclass(frozen=True, slots=True)
class Verification:
    """The verdict on one candidate output, with every result that led to it."""

    verdict: VerdictName
    score: float
    results: tuple[CheckResult, ...]

    @property
    def accepted(self) -> bool:
        return self.verdict == ACCEPT

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.passed)


class Subject:
    """The candidate under check. Parsed JSON is computed once and shared by checks."""

    __slots__ = ("_json", "_lowered", "finish_reason", "output", "prompt", "task_type")

    _UNPARSED: Any = object()

    def __init__(self, *, prompt: str, task_type: str, output: str, finish_reason: str) -> None:
        self.prompt = prompt
        self.task_type = task_type
        self.output = output
        self.finish_reason = finish_reason
        self._json: Any = Subject._UNPARSED
        self._lowered: str | None = None

    def lowered(self) -> str:
        """The output lower-cased, computed once: matching lower-cased text without
        IGNORECASE is about twice as fast in Python's re."""
        if self._lowered is None:
            self._lowered = self.output.lower()
        return self._lowered

    def parsed_json(self) -> tuple[Any, str | None]:
        """(value, None) when the output is JSON, else (None, error message)."""
        if self._json is Subject._UNPARSED:
            self._json = _parse_json(self.output)
        return self._json


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _parse_json(text: str) -> tuple[Any, str | None]:
    try:
        # Strict JSON: Python would otherwise accept NaN and Infinity.
        return json.loads(text, parse_constant=_reject_constant), None
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"
    except RecursionError:
        return None, "not valid JSON: nested too deeply"


# A compiled check: returns None when the subject passes, else the reason it fails.
CheckFn = Callable[[Subject], "str | None"]
