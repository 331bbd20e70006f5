"""The redaction hook every captured prompt and answer goes through.

An operator who turns text capture on gets the built-in patterns (e-mail addresses,
card-like digit runs, bearer tokens) plus their own regexes (`decision_log_redact`),
and may name a Python callable `str -> str` (`decision_log_redactor: "module:function"`)
that runs after the patterns, e.g. a PII detector.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

import regex

from switchyard.runtime.errors import StartupError

REDACTED = "[redacted]"
BUILT_IN_PATTERNS = (
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    # 13-19 digits, optionally grouped by spaces or dashes: payment cards.
    r"\b(?:\d[ -]?){12,18}\d\b",
    r"(?i)\bbearer\s+[\w.~+/-]+=*",
)
# A pattern that backtracks badly stops here, and the text is dropped rather than kept.
PATTERN_TIMEOUT_S = 0.05

Redactor = Callable[[str], str]


def load_callable(spec: str) -> Redactor:
    """`package.module:function` -> the function; refused at start when it is not one."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise StartupError(f"decision_log_redactor {spec!r}: expected 'module:function'")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise StartupError(f"decision_log_redactor {spec!r}: {exc}") from exc
    if not callable(target):
        raise StartupError(f"decision_log_redactor {spec!r} is not callable")
    return target  # type: ignore[no-any-return]


def build_redactor(patterns: Sequence[str] = (), hook: Redactor | None = None) -> Redactor:
    """The built-in patterns, then `patterns`, then `hook`."""
    compiled = []
    for pattern in (*BUILT_IN_PATTERNS, *patterns):
        try:
            compiled.append(regex.compile(pattern))
        except regex.error as exc:
            raise StartupError(f"decision_log_redact pattern {pattern!r}: {exc}") from exc

    def redact(text: str) -> str:
        try:
            for pattern in compiled:
                text = pattern.sub(REDACTED, text, timeout=PATTERN_TIMEOUT_S)
        except TimeoutError:
            return REDACTED
        return hook(text) if hook is not None else text

    return redact
