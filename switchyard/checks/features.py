"""Features of a request and its answer for the quality scorer.

Each feature is scaled to roughly 0..1 so one L2 strength suits them all. They are
cheap by construction (a handful of regex scans over a bounded window), because the
scorer runs on the router's latency-critical path. Changing this list changes the
artefact format: the scorer refuses an artefact trained on other features.
"""

from __future__ import annotations

import json
import math
import re

from switchyard.checks.arithmetic import ANNOTATION, NUMBER, close, equation_errors, to_number
from switchyard.checks.content import refusal_cue
from switchyard.checks.structure import boxed_answer, unclosed_json

# Only the tail of a long answer is read for its final answer and arithmetic, and only
# the tail of a long prompt (the question is last in a chat); lengths use the full text.
OUTPUT_WINDOW = 3000
PROMPT_WINDOW = 2000

# Matched against lower-cased text: IGNORECASE makes Python's re several times slower.
HEDGE_ALTERNATIVES = (
    r"\b(?:approximately|roughly|about|assum(?:e|ing)|round(?:ed|ing)?|estimate|however|"
    r"actually|wait|mistake|not possible|cannot|can't|unclear|ambiguous|i think|probably|"
    r"might|perhaps|not sure|if we)\b|\?|≈"
)
# The lookahead (every first character above) lets the scan skip, with one character
# test, each position no hedge can start at: about twice as fast as trying them all.
HEDGES = re.compile(rf"(?=[aceimnprhuw?≈])(?:{HEDGE_ALTERNATIVES})")
WORD = re.compile(r"[A-Za-z]{2,}")
EQUALS_NUMBER = re.compile(r"=\s*\$?\s*(-?\d[\d,]*(?:\.\d+)?)")

FEATURE_NAMES: tuple[str, ...] = (
    "empty",
    "log_output_chars",
    "log_prompt_chars",
    "output_prompt_ratio",
    "lines",
    "finish_length",
    "unclosed",
    "refusal",
    "hedges",
    "asks_json",
    "json_ok",
    "asks_boxed",
    "has_boxed",
    "has_hash",
    "multi_hash",
    "final_has_number",
    "final_integer",
    "final_multi_number",
    "final_words",
    "final_negative",
    "final_log_magnitude",
    "final_matches_last_computed",
    "final_in_body",
    "final_in_prompt",
    "prompt_number_coverage",
    "prompt_numbers",
    "equations_checked",
    "equation_wrong",
    "equation_wrong_fraction",
    "decimals",
)


def _final_answer_line(text: str) -> tuple[str, str, int]:
    """(final answer text, body before it, number of '####' markers)."""
    markers = text.count("####")
    if markers:
        body, _, tail = text.rpartition("####")
        return tail.strip().split("\n", 1)[0], body, markers
    boxed = boxed_answer(text)
    if boxed is not None:
        return boxed, text, 0
    stripped = text.rstrip()
    return stripped[stripped.rfind("\n") + 1 :], text, 0


def _json_ok(text: str) -> bool:
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


MAX_NUMBERS = 400


def _numbers(text: str) -> list[float]:
    # NUMBER only matches digits, commas and one decimal point: float() cannot fail.
    found = NUMBER.findall(text)[-MAX_NUMBERS:]
    if "," in text:
        return [float(n.replace(",", "")) for n in found]
    return list(map(float, found))


def extract(*, prompt: str, task_type: str, output: str, finish_reason: str) -> list[float]:
    """The feature vector, in FEATURE_NAMES order. Cost is bounded by the windows."""
    tail = output[-OUTPUT_WINDOW:]
    question = prompt[-PROMPT_WINDOW:]
    final_line, body, markers = _final_answer_line(tail)
    final_numbers = NUMBER.findall(final_line)
    final = to_number(final_numbers[0]) if final_numbers else None
    if final is not None and not math.isfinite(final):
        final = None

    body_plain = ANNOTATION.sub(" ", body)
    body_numbers = _numbers(body_plain)
    computed = EQUALS_NUMBER.findall(body_plain)
    last_computed = to_number(computed[-1]) if computed else None
    if last_computed is None and body_numbers:
        last_computed = body_numbers[-1]
    # Exact float sets: "18" and "18.00" parse to the same float.
    prompt_keys = set(_numbers(question))
    body_keys = set(body_numbers)
    answer_keys = body_keys | ({final} if final is not None else set())
    checked, wrong = equation_errors(tail)
    asks_json = "json" in question.lower()
    hedges = len(HEDGES.findall(tail.lower()))
    final_words = len(WORD.findall(final_line)) if markers else 0

    return [
        1.0 if not output or output.isspace() else 0.0,
        min(math.log1p(len(output)) / 14, 1.0),  # 1 MiB ~ 13.9
        min(math.log1p(len(prompt)) / 14, 1.0),
        min(len(output) / (len(prompt) + 1), 5.0) / 5,
        min(tail.count("\n"), 40) / 40,
        1.0 if finish_reason == "length" else 0.0,
        1.0 if unclosed_json(tail) or tail.count("```") % 2 == 1 else 0.0,
        1.0 if refusal_cue(output) else 0.0,
        min(hedges, 5) / 5,
        1.0 if asks_json else 0.0,
        1.0 if asks_json and _json_ok(output) else 0.0,
        1.0 if "\\boxed" in question else 0.0,
        1.0 if "\\boxed" in tail else 0.0,
        1.0 if markers else 0.0,
        1.0 if markers > 1 else 0.0,
        1.0 if final is not None else 0.0,
        1.0 if final is not None and final.is_integer() else 0.0,
        1.0 if len(final_numbers) > 1 else 0.0,
        min(final_words, 10) / 10,
        1.0 if final is not None and final < 0 else 0.0,
        min(math.log10(abs(final) + 1), 10) / 10 if final is not None else 0.0,
        1.0
        if final is not None and last_computed is not None and close(final, last_computed)
        else 0.0,
        1.0 if final is not None and final in body_keys else 0.0,
        1.0 if final is not None and final in prompt_keys else 0.0,
        # Prompts use their numbers verbatim when an answer works with them.
        sum(1 for k in prompt_keys if k in answer_keys) / len(prompt_keys) if prompt_keys else 1.0,
        min(len(prompt_keys), 15) / 15,
        min(checked, 10) / 10,
        1.0 if wrong else 0.0,
        wrong / checked if checked else 0.0,
        min(sum(1 for n in body_numbers if not n.is_integer()), 5) / 5,
    ]
