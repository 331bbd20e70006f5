"""Simulated model profiles: the per-model truth read from the models YAML file.

A profile is immutable; run-time fault injection (faults.py) layers on top of it and
can be reset back to it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from switchyard.runtime.errors import FieldViolation, StartupError

STYLES = ("prose", "code")


@dataclass(frozen=True)
class ModelProfile:
    """How one simulated model behaves when no fault is injected."""

    name: str
    # Time to first token.
    ttft_ms: float = 0.0
    # Generation speed; 0 means the whole answer arrives with the first token.
    tokens_per_second: float = 0.0
    # Latency is scaled by a uniform factor in [1 - jitter, 1 + jitter].
    jitter: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    # Sent as Retry-After on 429 replies when set.
    retry_after_s: float | None = None
    # Probability that an answer is acceptable; otherwise a short low-effort reply.
    quality: float = 1.0
    # Mean answer length; each answer varies uniformly by +-25 %.
    answer_tokens: int = 100
    # "code" answers carry a fenced code block before the explanation.
    style: str = "prose"
    # Prompts longer than this (estimated tokens) get a 400; 0 = unlimited.
    context_window: int = 0
    # Replay mode: dataset name -> the dataset's model whose recorded answers this serves.
    replay: Mapping[str, str] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        """The profile as plain JSON-able data (for GET /admin/models)."""
        return {
            "ttft_ms": self.ttft_ms,
            "tokens_per_second": self.tokens_per_second,
            "jitter": self.jitter,
            "error_rate": self.error_rate,
            "error_status": self.error_status,
            "retry_after_s": self.retry_after_s,
            "quality": self.quality,
            "answer_tokens": self.answer_tokens,
            "style": self.style,
            "context_window": self.context_window,
            "replay": dict(self.replay),
        }


def read_number(
    raw: Mapping[str, Any],
    name: str,
    violations: list[FieldViolation],
    *,
    lo: float,
    hi: float = math.inf,
    integer: bool = False,
    prefix: str = "",
) -> float | None:
    """Read raw[name] as a finite number in [lo, hi]; record a violation otherwise."""
    if name not in raw or raw[name] is None:
        return None
    value = raw[name]
    # bool is an int subclass; `true` is never a sensible latency or rate.
    if isinstance(value, bool) or not isinstance(value, int | float):
        violations.append(FieldViolation(prefix + name, f"must be a number, got {value!r}"))
        return None
    if integer and value != int(value):
        violations.append(FieldViolation(prefix + name, f"must be an integer, got {value!r}"))
        return None
    if not math.isfinite(value) or not lo <= value <= hi:
        bound = f"in [{lo:g}, {hi:g}]" if math.isfinite(hi) else f">= {lo:g}"
        violations.append(FieldViolation(prefix + name, f"must be {bound}, got {value!r}"))
        return None
    return int(value) if integer else float(value)


_NUMBERS: dict[str, dict[str, Any]] = {
    "ttft_ms": {"lo": 0, "hi": 600_000},
    "tokens_per_second": {"lo": 0},
    "jitter": {"lo": 0, "hi": 1},
    "error_rate": {"lo": 0, "hi": 1},
    "error_status": {"lo": 400, "hi": 599, "integer": True},
    "retry_after_s": {"lo": 0, "hi": 86_400},
    "quality": {"lo": 0, "hi": 1},
    "answer_tokens": {"lo": 1, "hi": 32_768, "integer": True},
    "context_window": {"lo": 0, "integer": True},
}
_KNOWN = {*_NUMBERS, "style", "replay"}


def parse_profile(name: str, raw: Any) -> tuple[ModelProfile | None, list[FieldViolation]]:
    """Build one profile from its YAML mapping, collecting every problem."""
    prefix = f"models.{name}."
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return None, [FieldViolation(f"models.{name}", "must be a mapping of settings")]
    violations: list[FieldViolation] = [
        FieldViolation(prefix + str(key), "unknown setting") for key in raw if key not in _KNOWN
    ]
    values: dict[str, Any] = {}
    for key, bounds in _NUMBERS.items():
        value = read_number(raw, key, violations, prefix=prefix, **bounds)
        if value is not None:
            values[key] = value
    style = raw.get("style", "prose")
    if style not in STYLES:
        violations.append(FieldViolation(prefix + "style", f"must be one of {', '.join(STYLES)}"))
    replay = raw.get("replay") or {}
    if not isinstance(replay, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in replay.items()
    ):
        violations.append(
            FieldViolation(prefix + "replay", "must map dataset name to dataset model name")
        )
    if violations:
        return None, violations
    return ModelProfile(name=name, style=style, replay=dict(replay), **values), []


def load_profiles(path: str | Path) -> dict[str, ModelProfile]:
    """Read the models file; any problem is a one-line StartupError naming the field."""
    try:
        loaded = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise StartupError(f"cannot read models file {path}: {exc}") from exc
    models = loaded.get("models") if isinstance(loaded, Mapping) else None
    if not isinstance(models, Mapping) or not models:
        raise StartupError(f"models file {path}: needs a non-empty `models:` mapping")
    profiles: dict[str, ModelProfile] = {}
    violations: list[FieldViolation] = []
    for name, raw in models.items():
        profile, problems = parse_profile(str(name), raw)
        violations.extend(problems)
        if profile is not None:
            profiles[profile.name] = profile
    if violations:
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations)
        raise StartupError(f"models file {path}: {summary}")
    return profiles
