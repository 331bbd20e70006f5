"""ListModels filters and paging: parsing, matching and paging, without gRPC.

Filter grammar (AIP-160 subset): terms joined by `AND`, each `key=value`, where key is
`labels.<label>`, `capability`, `task_type` or `health`; values may be double-quoted.
Enum values accept their short or full names in any case (`json_mode`, `CAPABILITY_JSON_MODE`).

Page tokens and sizes follow `switchyard.runtime.paging`, shared with the control plane.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from switchyard.registry.v1 import registry_pb2
from switchyard.runtime.errors import FieldViolation, InvalidArgument
from switchyard.runtime.paging import decode_page_token, encode_page_token, page_size_of

# Re-exported: the servicer pages revisions with the same rules.
__all__ = [
    "ModelFilter",
    "decode_page_token",
    "encode_page_token",
    "list_page",
    "page_size_of",
    "parse_filter",
]
MAX_FILTER_LENGTH = 2000

_SPLIT_RE = re.compile(r"\s+AND\s+", re.IGNORECASE)
_TERM_RE = re.compile(
    r"""\s*(?P<key>labels\.[A-Za-z0-9_.\-/]+|capability|task_type|health)\s*=\s*
        (?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s"=]+))\s*""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class ModelFilter:
    labels: dict[str, str] = field(default_factory=dict)
    capabilities: frozenset[int] = frozenset()
    task_types: frozenset[str] = frozenset()
    health_states: frozenset[int] = frozenset()

    def matches(self, model: registry_pb2.Model) -> bool:
        if any(model.labels.get(k) != v for k, v in self.labels.items()):
            return False
        if not self.capabilities <= set(model.capabilities):
            return False
        if not self.task_types <= set(model.quality):
            return False
        return all(model.health.state == state for state in self.health_states)


def _enum_value(enum: Any, prefix: str, raw: str) -> int | None:
    name = raw.upper()
    if not name.startswith(prefix):
        name = prefix + name
    number = enum.values_by_name.get(name)
    if number is None or number.number == 0:
        return None
    return int(number.number)


def parse_filter(text: str, field_name: str = "filter") -> ModelFilter:
    """Parse a filter string; every malformed term is its own violation."""
    if not text.strip():
        return ModelFilter()
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidArgument([FieldViolation(field_name, f"longer than {MAX_FILTER_LENGTH}")])
    labels: dict[str, str] = {}
    capabilities: set[int] = set()
    task_types: set[str] = set()
    health_states: set[int] = set()
    violations: list[FieldViolation] = []
    for term in _SPLIT_RE.split(text.strip()):
        match = _TERM_RE.fullmatch(term)
        if match is None:
            violations.append(
                FieldViolation(
                    field_name,
                    f"cannot parse {term[:80]!r}: expected labels.<key>=<value>, "
                    "capability=<CAPABILITY>, task_type=<task> or health=<STATE>, joined by AND",
                )
            )
            continue
        key = match["key"]
        value = match["quoted"] if match["quoted"] is not None else match["bare"]
        if key.startswith("labels."):
            labels[key.removeprefix("labels.")] = value
        elif key == "task_type":
            task_types.add(value)
        elif key == "capability":
            number = _enum_value(registry_pb2.Capability.DESCRIPTOR, "CAPABILITY_", value)
            if number is None:
                violations.append(FieldViolation(field_name, f"unknown capability {value!r}"))
            else:
                capabilities.add(number)
        else:
            number = _enum_value(registry_pb2.HealthState.DESCRIPTOR, "HEALTH_STATE_", value)
            if number is None:
                violations.append(FieldViolation(field_name, f"unknown health state {value!r}"))
            else:
                health_states.add(number)
    if violations:
        raise InvalidArgument(violations)
    return ModelFilter(
        labels, frozenset(capabilities), frozenset(task_types), frozenset(health_states)
    )


def list_page(
    models: Sequence[registry_pb2.Model],
    *,
    page_size: int,
    page_token: str,
    filter_text: str,
) -> tuple[list[registry_pb2.Model], str]:
    """One page of `models` (ordered by name) matching the filter, and the next token.

    Paging is by name, not offset, so models created or deleted between pages never
    make another model appear twice or be skipped.
    """
    violations: list[FieldViolation] = []
    size = _checked(violations, page_size_of, page_size)
    model_filter = _checked(violations, parse_filter, filter_text)
    after = _checked(violations, decode_page_token, page_token, filter_text, str)
    if violations:
        raise InvalidArgument(violations)
    assert size is not None and model_filter is not None
    page: list[registry_pb2.Model] = []
    more = False
    for model in models:
        if after is not None and model.name <= after:
            continue
        if not model_filter.matches(model):
            continue
        if len(page) == size:
            more = True
            break
        page.append(model)
    next_token = encode_page_token(page[-1].name, filter_text) if more else ""
    return page, next_token


def _checked(violations: list[FieldViolation], parse: Any, *args: Any) -> Any:
    """Run one parser, collecting its violations so the caller can report all at once."""
    try:
        return parse(*args)
    except InvalidArgument as exc:
        violations.extend(exc.violations)
        return None
