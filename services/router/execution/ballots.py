"""Vote counting: answers normalised into ballots, a tally that knows when it is decided.

Normalisation (the ballot's key):
- JSON: when the request asks for a JSON object, or for an `extraction` answer that
  parses as a JSON object or array. A surrounding Markdown code fence is removed, the
  value parsed and re-serialised canonically (keys sorted, no insignificant
  whitespace, Unicode kept), so `{"b": 1, "a": [2]}` and `{"a":[2],"b":1}` agree. In
  JSON mode an answer that does not parse casts no ballot.
- Final answer, for `math`: the number on GSM8K's final `#### <n>` line, else in the last
  `\\boxed{...}`, else the last number in the answer (self-consistency voting over final
  answers); `$`, spaces and thousands separators dropped and the value written
  canonically, so `#### 1,200`, `\\boxed{1200.0}` and `... is $1200.` agree. A boxed
  answer that is not a number (`\\frac{1}{2}`) is compared as a label. No number: no
  ballot.
- Label, otherwise: whitespace runs collapsed to one space and trimmed, surrounding
  quotes and backticks and trailing `.`, `!`, `;`, `:` and `,` removed (until none is
  left), case-folded: ` "Positive."`, `` `Positive`! `` and `positive` agree. An empty
  label casts no ballot.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass

from services.router.execution.records import Answer
from switchyard.checks.arithmetic import to_number
from switchyard.checks.structure import boxed_answer, gsm8k_answer
from switchyard.policy import VoteSettings

_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(.*?)\n?```$", re.DOTALL)
# A remaining ballot weighs at most this (one vote; a score is at most 1).
MAX_BALLOT_WEIGHT = 1.0
_EPSILON = 1e-9
LAST_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
# A final answer is at the end: only the tail is scanned for the last number.
_TAIL_CHARS = 400


def canonical_json(text: str, *, containers_only: bool = False) -> str | None:
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if containers_only and not isinstance(value, dict | list):
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def label(text: str) -> str:
    trimmed = " ".join(text.split())
    previous = None
    while trimmed != previous:  # each pass shortens it or ends: `"Positive".` → positive
        previous = trimmed
        trimmed = trimmed.strip("\"'`").rstrip(".!;:,").strip()
    return trimmed.casefold()


def _canonical_number(text: str) -> str | None:
    value = to_number(text.replace("$", "").replace(" ", ""))
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return str(int(value)) if value.is_integer() else repr(value)


def final_answer_key(text: str) -> str | None:
    marked = gsm8k_answer(text)
    if marked is not None:
        return _canonical_number(marked)
    boxed = boxed_answer(text)
    if boxed is not None:
        return _canonical_number(boxed) or label(boxed) or None
    numbers = LAST_NUMBER.findall(text[-_TAIL_CHARS:])
    return _canonical_number(numbers[-1]) if numbers else None


def ballot_key(text: str, *, json_mode: bool, task_type: str) -> str | None:
    """The normalised answer a vote compares; None when the answer casts no ballot."""
    if json_mode:
        return canonical_json(text)
    if task_type == "math":
        return final_answer_key(text)
    if task_type == "extraction":
        key = canonical_json(text, containers_only=True)
        if key is not None:
            return key
    return label(text) or None


@dataclass(frozen=True)
class Ballot:
    key: str
    weight: float
    # The member's position in the chain: an `order` tie goes to the earliest listed.
    order: int
    answer: Answer


@dataclass(frozen=True)
class VoteResult:
    key: str
    # The group's best-scored answer (then the earliest listed), returned verbatim.
    answer: Answer
    # The winning group's share of the weight cast, 0..1.
    agreement: float


class Tally:
    def __init__(self, settings: VoteSettings) -> None:
        self._settings = settings
        self._groups: dict[str, list[Ballot]] = defaultdict(list)

    def weight_of(self, answer: Answer) -> float:
        return answer.score if self._settings.weighting == "confidence" else 1.0

    def cast(self, ballot: Ballot) -> None:
        self._groups[ballot.key].append(ballot)

    def _weights(self) -> dict[str, float]:
        return {key: sum(b.weight for b in ballots) for key, ballots in self._groups.items()}

    def decided(self, remaining_ballots: int) -> bool:
        """No way the remaining ballots (each weighing at most 1) could change the
        winner: the leader's margin over the runner-up exceeds them (so no tie either),
        and its share would still reach min_agreement if all of them went elsewhere."""
        weights = sorted(self._weights().values(), reverse=True)
        if not weights:
            return False
        leader = weights[0]
        runner_up = weights[1] if len(weights) > 1 else 0.0
        remaining = remaining_ballots * MAX_BALLOT_WEIGHT
        if leader - runner_up <= remaining + _EPSILON:
            return False
        total = sum(weights) + remaining
        return total > 0 and leader / total + _EPSILON >= self._settings.min_agreement

    def result(self) -> VoteResult | None:
        """The winner under the policy's tie-break and min_agreement; None without one."""
        weights = self._weights()
        total = sum(weights.values())
        if not weights or total <= 0:
            return None
        top = max(weights.values())
        leaders = [key for key, w in weights.items() if w >= top - _EPSILON]
        if len(leaders) > 1 and self._settings.tie_break == "none":
            return None
        key = min(leaders, key=self._tie_order)
        share = weights[key] / total
        if share + _EPSILON < self._settings.min_agreement:
            return None
        best = max(self._groups[key], key=lambda b: (b.answer.score, -b.order))
        return VoteResult(key=key, answer=best.answer, agreement=share)

    def _tie_order(self, key: str) -> tuple[float, int]:
        ballots = self._groups[key]
        first = min(b.order for b in ballots)
        if self._settings.tie_break == "score":
            mean = sum(b.answer.score for b in ballots) / len(ballots)
            return (-mean, first)
        return (0.0, first)
