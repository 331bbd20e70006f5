"""Content checks: regex must / must-not match, word blocklist, refusal detection.

Regexes from policies are untrusted: a pattern like `(a+)+$` backtracks
exponentially in the stdlib `re`. We run them on the `regex` module (mrab-regex),
whose matcher takes a `timeout` and raises TimeoutError mid-match, so one check can
never hold the process longer than its budget. A size limit on patterns and the
engine's 1 MiB output cap bound the rest. A timeout fails the check (fail-closed):
we could not show the output is acceptable.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

try:
    import regex
except ImportError:  # pragma: no cover - the dependency is declared; keep other checks usable
    regex = None

from switchyard.checks.model import CheckFn, Subject
from switchyard.checks.registry import BOOL, INT, STRING_LIST, Param, ParamError, check

MAX_PATTERN_CHARS = 1000
MAX_PATTERNS = 32
DEFAULT_REGEX_TIMEOUT_MS = 20
MAX_REGEX_TIMEOUT_MS = 200
MAX_BLOCKLIST_WORDS = 10_000


def _compile_patterns(name: str, patterns: tuple[str, ...], flags: int) -> list[Any]:
    if len(patterns) > MAX_PATTERNS:
        raise ParamError(name, f"at most {MAX_PATTERNS} patterns, got {len(patterns)}")
    compiled = []
    for index, pattern in enumerate(patterns):
        if len(pattern) > MAX_PATTERN_CHARS:
            raise ParamError(
                f"{name}[{index}]", f"pattern longer than {MAX_PATTERN_CHARS} characters"
            )
        try:
            compiled.append(regex.compile(pattern, flags))
        except (regex.error, ValueError, OverflowError) as exc:
            raise ParamError(f"{name}[{index}]", f"invalid regex {pattern!r}: {exc}") from exc
    return compiled


def regex_check(params: Mapping[str, Any]) -> CheckFn:
    if regex is None:
        raise ParamError("", "this build lacks the 'regex' package the regex check runs on")
    flags = regex.IGNORECASE if params.get("ignore_case", False) else 0
    must = _compile_patterns("must_match", params.get("must_match", ()), flags)
    must_not = _compile_patterns("must_not_match", params.get("must_not_match", ()), flags)
    if not must and not must_not:
        raise ParamError("", "give at least one pattern in must_match or must_not_match")
    timeout_ms = params.get("timeout_ms", DEFAULT_REGEX_TIMEOUT_MS)
    if timeout_ms > MAX_REGEX_TIMEOUT_MS:
        raise ParamError("timeout_ms", f"must be <= {MAX_REGEX_TIMEOUT_MS}")
    budget_s = timeout_ms / 1000
    plan = [(p, True) for p in must] + [(p, False) for p in must_not]

    def run(subject: Subject) -> str | None:
        deadline = time.monotonic() + budget_s
        for pattern, wanted in plan:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                found = pattern.search(subject.output, timeout=remaining) is not None
            except TimeoutError:
                return f"regex {pattern.pattern!r} timed out after {timeout_ms} ms"
            if found != wanted:
                if wanted:
                    return f"output does not match required regex {pattern.pattern!r}"
                return f"output matches forbidden regex {pattern.pattern!r}"
        return None

    return run


check(
    "regex",
    description=(
        "Every must_match pattern is found in the output and no must_not_match pattern is. "
        "Matching is bounded by timeout_ms per check; a timeout fails the check."
    ),
    cost_rank=30,
    params=(
        Param("must_match", STRING_LIST, "Patterns that must each be found (regex search)."),
        Param("must_not_match", STRING_LIST, "Patterns that must not be found."),
        Param("ignore_case", BOOL, "Case-insensitive matching (default false)."),
        Param(
            "timeout_ms",
            INT,
            f"Matching budget for the whole check, 1..{MAX_REGEX_TIMEOUT_MS} "
            f"(default {DEFAULT_REGEX_TIMEOUT_MS}).",
            minimum=1,
        ),
    ),
)(regex_check)


def blocklist(params: Mapping[str, Any]) -> CheckFn:
    words = [w.strip() for w in params.get("words", ()) if w.strip()]
    if not words:
        raise ParamError("words", "give at least one non-blank word")
    if len(words) > MAX_BLOCKLIST_WORDS:
        raise ParamError("words", f"at most {MAX_BLOCKLIST_WORDS} words, got {len(words)}")
    # Longest first so "bad word" wins over "bad"; lookarounds instead of \b so that
    # words starting or ending in punctuation still match whole. Matched against the
    # lower-cased output (shared with other checks) rather than with IGNORECASE.
    lowered = sorted({w.lower() for w in words}, key=len, reverse=True)
    alternation = "|".join(re.escape(w) for w in lowered)
    # The lookahead on first characters skips most positions in one test (see below).
    firsts = "".join(re.escape(c) for c in sorted({w[0] for w in lowered}))
    pattern = re.compile(rf"(?=[{firsts}])(?<!\w)(?:{alternation})(?!\w)")

    def run(subject: Subject) -> str | None:
        lowered = subject.lowered()
        found = pattern.search(lowered)
        if found is None:
            return None
        start, end = found.span()
        # Quote the word as written; lower() rarely changes lengths (e.g. "İ").
        same_length = len(lowered) == len(subject.output)
        word = subject.output[start:end] if same_length else found.group(0)
        return f"output contains blocked word {word!r} at offset {start}"

    return run


check(
    "blocklist",
    description="None of the listed words or phrases occurs as a whole word (case-insensitive).",
    cost_rank=8,
    params=(Param("words", STRING_LIST, "Words or phrases to refuse, matched whole-word."),),
)(blocklist)


# Openers of an answer that declines the task. Matched near the start only: a helpful
# answer may say "I can't" somewhere in the middle.
REFUSAL_PHRASES = (
    r"I(?:'m| am) (?:sorry|afraid),? (?:but )?I (?:can(?:'t|not)|won't|am unable|'m unable)",
    r"I (?:can(?:'t|not)|won't|will not|am unable to|'m unable to|am not able to) "
    r"(?:help|assist|provide|comply|fulfil|fulfill|do that|answer|support|create|generate|"
    r"write|engage|share|give)",
    r"(?:As|Being) an AI(?: language model| assistant| model)?,? I (?:can(?:'t|not)|don't|do not"
    r"|am not able|'m not able|am unable)",
    r"I must (?:respectfully )?decline",
    r"I(?:'m| am) not (?:able|allowed|permitted) to (?:help|assist|provide|answer|do)",
    r"(?:Sorry|Unfortunately),? (?:but )?I (?:can(?:'t|not)|won't|am unable|'m unable)",
    r"I(?:'m| am) unable to (?:help|assist|provide|comply|answer|fulfil|fulfill)",
    r"I (?:apologi[sz]e|regret),? but I (?:can(?:'t|not)|won't|am unable|'m unable)",
    r"(?:That|This) (?:request )?(?:is|goes) against my (?:guidelines|policies|programming)",
)
DEFAULT_REFUSAL_SCAN_CHARS = 400


def compile_refusal(extra: tuple[str, ...] = ()) -> re.Pattern[str]:
    """One pattern over lower-cased text (IGNORECASE makes Python's re ~4x slower here)."""
    phrases = [p.lower() for p in REFUSAL_PHRASES] + [re.escape(p.lower()) for p in extra]
    alternation = "|".join(f"(?:{p})" for p in phrases)
    return re.compile(f"{_first_char_guard(phrases)}(?:{alternation})")


def _first_char_guard(alternatives: list[str]) -> str:
    """A lookahead on the characters the alternatives can start with, when known.

    Python's re tries every alternative at every position; the lookahead rejects
    most positions with one character test (refusal scan about 1.6x faster).
    Returns "" when some alternative does not start with a plain literal.
    """
    firsts: set[str] = set()
    for alternative in alternatives:
        group = re.match(r"\(\?:([^()]*)\)", alternative)
        if group and alternative[group.end() : group.end() + 1] in ("?", "*", "{"):
            return ""  # an optional leading group: the text may start after it
        heads = group.group(1).split("|") if group else [alternative]
        for head in heads:
            if not head or head[0] in "\\()[]{}.*+?^$|" or head[1:2] in ("?", "*", "{"):
                return ""
            firsts.add(head[0])
    return "(?=[" + "".join(re.escape(c) for c in sorted(firsts)) + "])"


DEFAULT_REFUSAL = compile_refusal()


def _head(text: str, scan_chars: int) -> str:
    # Typographic apostrophes are common in model output.
    return text[:scan_chars].lower().replace("\u2019", "'")


def refusal_cue(text: str, scan_chars: int = DEFAULT_REFUSAL_SCAN_CHARS) -> str | None:
    """The refusal phrase near the start of `text`, if any (shared with the scorer)."""
    found = DEFAULT_REFUSAL.search(_head(text, scan_chars))
    return found.group(0) if found else None


def refusal(params: Mapping[str, Any]) -> CheckFn:
    extra = tuple(p for p in params.get("extra_phrases", ()) if p.strip())
    pattern = compile_refusal(extra) if extra else DEFAULT_REFUSAL
    scan_chars: int = params.get("scan_chars", DEFAULT_REFUSAL_SCAN_CHARS)

    def run(subject: Subject) -> str | None:
        head = subject.lowered()[:scan_chars].replace("\u2019", "'")
        found = pattern.search(head)
        return None if found is None else f"output is a refusal: {found.group(0)!r}"

    return run


check(
    "refusal",
    description='The output does not open by declining the task ("I can\'t help with that" ...).',
    cost_rank=6,
    params=(
        Param("extra_phrases", STRING_LIST, "More refusal phrases (literal, case-insensitive)."),
        Param(
            "scan_chars",
            INT,
            f"How much of the start of the output to search (default "
            f"{DEFAULT_REFUSAL_SCAN_CHARS}).",
            minimum=1,
        ),
    ),
)(refusal)
