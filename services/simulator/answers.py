"""Synthetic answer text: plausible, on-topic, cheap to produce.

Answers are assembled from canned sentences around a few words taken from the prompt,
so a human skimming `make demo` output sees replies that fit the question, and a
verifier sees realistic lengths and formats. Everything here is a few microseconds.
"""

from __future__ import annotations

import json
import random
import re

CHARS_PER_TOKEN = 4
# Chat formats add a few tokens per message for role markers.
TOKENS_PER_MESSAGE = 3

# All under 20 characters, so a verifier `length` check with min_chars 20 rejects them.
LOW_EFFORT_REPLIES = ("I'm not sure.", "I don't know.", "Hard to say.", "Maybe.", "No idea, sorry.")
REFUSAL = "I'm sorry, but I can't help with that request."

_WIDE = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#'_-]{2,}")
_STOPWORDS = frozenset(
    """about above after again against all also and any are because been before being below
    between both but can could did does doing down during each few for from further had has
    have having her here hers him his how into its itself just let like more most much must
    not now off once only other our out over own please same she should show some such than
    that the their them then there these they this those through too under until very was
    way what when where which while who whom why will with would you your yours write
    explain tell give describe make list find using use need want does is work works
    briefly detail details example examples thing things ways""".split()
)

_OPENINGS = (
    "Here is a clear answer about {t}.",
    "Good question about {t}.",
    "Let's look at {t} step by step.",
    "Short version on {t} first, then the details.",
)
_BODY = (
    "The key idea behind {t} is to break the problem into smaller, well-defined parts.",
    "In practice, {t} depends on the constraints you have and the trade-offs you accept.",
    "A common mistake is to skip the edge cases, so check the boundaries first.",
    "Start from the simplest case that works, then extend it one step at a time.",
    "It helps to state the assumptions explicitly before drawing a conclusion.",
    "Measured results matter more than intuition, so verify each step as you go.",
    "A short worked example makes {t} much easier to follow.",
    "The main benefit is predictability: the same inputs lead to the same outputs.",
    "Costs grow with scale, so it is worth estimating them early.",
    "When in doubt, compare two options side by side on the same inputs.",
    "Most of the difficulty with {t} comes from a few recurring patterns.",
    "Documenting the reasoning makes later changes to {t} much safer.",
)
_CLOSING = "In short, {t} rewards a careful, incremental approach."
_CODE = (
    "```python\n"
    "def solve(items: list[int]) -> list[int]:\n"
    '    """{t}: return the items in order, without duplicates."""\n'
    "    seen: set[int] = set()\n"
    "    result: list[int] = []\n"
    "    for item in sorted(items):\n"
    "        if item not in seen:\n"
    "            seen.add(item)\n"
    "            result.append(item)\n"
    "    return result\n"
    "```"
)


def estimate_tokens(text: str) -> int:
    """What a BPE tokenizer roughly counts: a token per CJK character (kana, ideographs,
    hangul, full-width forms), about four characters per token for the rest; any
    non-empty text is at least one token."""
    if not text:
        return 0
    wide = 0 if text.isascii() else len(text) - len(_WIDE.sub("", text))
    narrow = len(text) - wide
    return max(1, wide + (narrow + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN)


def prompt_tokens(contents: list[str]) -> int:
    return sum(estimate_tokens(c) + TOKENS_PER_MESSAGE for c in contents)


def topic_of(prompt: str, *, max_words: int = 4) -> str:
    """A few salient words from the prompt, in their original order."""
    words: list[str] = []
    for match in _WORD.finditer(prompt[:400]):
        word = match.group(0)
        lower = word.lower()
        if lower in _STOPWORDS or lower in (w.lower() for w in words):
            continue
        words.append(word)
        if len(words) == max_words:
            break
    return " ".join(words) if words else "your question"


def prose(rng: random.Random, topic: str, target_tokens: int) -> str:
    """Sentences about `topic` until about `target_tokens` tokens, ending on a full stop."""
    target_chars = target_tokens * CHARS_PER_TOKEN
    parts = [rng.choice(_OPENINGS).format(t=topic)]
    size = len(parts[0])
    closing = _CLOSING.format(t=topic)
    while size + len(closing) < target_chars:
        sentence = rng.choice(_BODY).format(t=topic)
        parts.append(sentence)
        size += len(sentence) + 1
    parts.append(closing)
    return " ".join(parts)


def acceptable_answer(
    rng: random.Random, prompt: str, target_tokens: int, *, style: str, json_mode: bool
) -> str:
    """An answer a reasonable verifier accepts: on topic, long enough, valid JSON if asked."""
    topic = topic_of(prompt)
    if json_mode:
        body = prose(rng, topic, max(8, target_tokens - 12))
        confidence = round(rng.uniform(0.6, 0.99), 2)
        return json.dumps({"topic": topic, "answer": body, "confidence": confidence})
    if style == "code":
        code = _CODE.format(t=topic)
        rest = max(8, target_tokens - estimate_tokens(code))
        return f"{code}\n\n{prose(rng, topic, rest)}"
    return prose(rng, topic, target_tokens)


def low_effort_reply(rng: random.Random) -> str:
    return rng.choice(LOW_EFFORT_REPLIES)


def cut_to_tokens(text: str, max_tokens: int) -> str:
    """The first `max_tokens` tokens' worth of text (what a length-stopped model sends)."""
    return text[: max_tokens * CHARS_PER_TOKEN]
