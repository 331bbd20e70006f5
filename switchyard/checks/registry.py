"""The check registry: every check by name, with its cost rank and parameters.

A check is declared once with `@check(...)` on a builder that turns validated
parameters into a `CheckFn`. Validation happens at compile time, so the per-answer
path never re-reads parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from switchyard.checks.model import CheckFn, CheckSpec
from switchyard.runtime.errors import FieldViolation

# Parameter types, as ListChecks reports them.
INT = "int"
NUMBER = "number"
BOOL = "bool"
STRING = "string"
STRING_LIST = "string_list"
OBJECT = "object"


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    description: str
    minimum: float | None = None


@dataclass(frozen=True)
class CheckDefinition:
    """A registered check. `cost_rank` orders execution: cheapest first."""

    name: str
    description: str
    cost_rank: int
    params: tuple[Param, ...]
    build: Callable[[Mapping[str, Any]], CheckFn]

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


class ParamError(Exception):
    """Raised by a builder for a semantic problem (bad regex, min > max, ...).

    `param` names the offending parameter, or "" when the problem is the whole set.
    """

    def __init__(self, param: str, description: str) -> None:
        super().__init__(description)
        self.param = param
        self.description = description


CHECKS: dict[str, CheckDefinition] = {}


def check(
    name: str, *, description: str, cost_rank: int, params: Sequence[Param] = ()
) -> Callable[[Callable[[Mapping[str, Any]], CheckFn]], Callable[[Mapping[str, Any]], CheckFn]]:
    """Register a check builder under `name`: `check("name", ...)(build)`.

    The check modules call this after each builder instead of using it as a decorator:
    mutmut (`make mutation`) does not mutate decorated functions, and the builders and
    their `run` closures are the code the verifier's mutation score must measure.
    """

    def register(build: Callable[[Mapping[str, Any]], CheckFn]) -> Callable[..., CheckFn]:
        if name in CHECKS:
            raise ValueError(f"check {name!r} registered twice")
        CHECKS[name] = CheckDefinition(name, description, cost_rank, tuple(params), build)
        return build

    return register


def _coerce(param: Param, value: Any) -> tuple[Any, str | None]:
    """Normalise one value to the parameter's type; (value, None) or (None, problem)."""
    kind = param.type
    if kind == INT:
        # protobuf Struct carries every number as a double: accept 2000.0 as 2000.
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return None, "must be an integer"
    elif kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, "must be a number"
        value = float(value)
        if not math.isfinite(value):
            return None, "must be a finite number"
    elif kind == BOOL:
        if not isinstance(value, bool):
            return None, "must be true or false"
    elif kind == STRING:
        if not isinstance(value, str):
            return None, "must be a string"
    elif kind == STRING_LIST:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            return None, "must be a list of strings"
        if not all(isinstance(item, str) for item in value):
            return None, "must be a list of strings"
        value = tuple(value)
    elif kind == OBJECT:
        if not isinstance(value, Mapping):
            return None, "must be an object"
    if param.minimum is not None and value < param.minimum:
        bound = int(param.minimum) if kind == INT else param.minimum
        return None, f"must be >= {bound}"
    return value, None


def build_check(
    spec: CheckSpec, field_path: str
) -> tuple[CheckDefinition | None, CheckFn | None, list[FieldViolation]]:
    """Validate one spec and build its function; violations name the check and field."""
    definition = CHECKS.get(spec.name) if isinstance(spec.name, str) else None
    if definition is None:
        known = ", ".join(sorted(CHECKS))
        return (
            None,
            None,
            [FieldViolation(f"{field_path}.name", f"unknown check {spec.name!r}; known: {known}")],
        )
    violations: list[FieldViolation] = []
    params: dict[str, Any] = {}
    raw = spec.params if spec.params is not None else {}
    if not isinstance(raw, Mapping):
        raw = {}
        violations.append(
            FieldViolation(f"{field_path}.params", f"check {spec.name!r}: params must be an object")
        )
    for key, value in raw.items():
        param = definition.param(key)
        where = f"{field_path}.params.{key}"
        if param is None:
            known = ", ".join(p.name for p in definition.params) or "none"
            violations.append(
                FieldViolation(where, f"check {spec.name!r}: unknown parameter; known: {known}")
            )
            continue
        coerced, problem = _coerce(param, value)
        if problem is not None:
            violations.append(FieldViolation(where, f"check {spec.name!r}: {key} {problem}"))
        else:
            params[key] = coerced
    if violations:
        return definition, None, violations
    try:
        return definition, definition.build(params), []
    except ParamError as exc:
        where = f"{field_path}.params.{exc.param}" if exc.param else f"{field_path}.params"
        return definition, None, [FieldViolation(where, f"check {spec.name!r}: {exc.description}")]
