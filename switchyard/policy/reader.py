"""Typed reads out of nested YAML mappings, recording one field violation per problem."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from switchyard.runtime.errors import FieldViolation

T = TypeVar("T")


class FieldReader:
    """Reads typed values out of nested mappings, recording violations by path."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def fail(self, path: str, description: str) -> None:
        self.violations.append(FieldViolation(path, description))

    def mapping(self, value: Any, path: str, allowed: Collection[str]) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(path, "must be a mapping")
            return {}
        for key in value:
            if key not in allowed:
                self.fail(f"{path}.{key}" if path else str(key), "unknown field")
        return value

    def integer(
        self, node: Mapping[str, Any], key: str, path: str, default: T, *, low: int, high: int
    ) -> int | T:
        if key not in node or node[key] is None:
            return default
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(join(path, key), "must be an integer")
            return default
        if not low <= value <= high:
            self.fail(join(path, key), f"must be between {low} and {high}")
            return default
        return value

    def number(
        self,
        node: Mapping[str, Any],
        key: str,
        path: str,
        default: float,
        *,
        low: float,
        high: float,
    ) -> float:
        if key not in node or node[key] is None:
            return default
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(join(path, key), "must be a number")
            return default
        if not low <= value <= high:
            self.fail(join(path, key), f"must be between {low} and {high}")
            return default
        return float(value)

    def string(self, node: Mapping[str, Any], key: str, path: str, *, required: bool) -> str:
        value = node.get(key)
        if value is None:
            if required:
                self.fail(join(path, key), "is required")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.fail(join(path, key), "must be a non-empty string")
            return ""
        return value

    def strings(self, node: Mapping[str, Any], key: str, path: str) -> frozenset[str]:
        value = node.get(key)
        if value is None:
            return frozenset()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(join(path, key), "must be a list of non-empty strings")
            return frozenset()
        return frozenset(value)

    def each(
        self,
        node: Mapping[str, Any],
        key: str,
        path: str,
        read: Callable[[Any, str], T],
        *,
        limit: int,
    ) -> list[T]:
        value = node.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(join(path, key), "must be a list")
            return []
        if len(value) > limit:
            self.fail(join(path, key), f"at most {limit} entries")
            return []
        return [read(item, f"{join(path, key)}[{i}]") for i, item in enumerate(value)]


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
