"""Token estimates you can reserve money against.

Routing needs a prompt's size before any model has tokenized it: rule conditions, the
context-window filter and, above all, the worst-case cost a budget is checked and
reserved against. Four characters per token is right for English and wrong by 4x for
Japanese, so the estimate goes by script, rounded up from what the BPE tokenizers of
the big model families produce on text of each script:

| characters (Unicode blocks, told apart by the UTF-8 lead byte) | tokens per char |
|---|---|
| ASCII letters, whitespace and controls | 0.25 (English prose measures ~0.23) |
| ASCII digits and punctuation | 0.5 (code and numbers split finely) |
| U+0080..U+037F: accented Latin, IPA, combining marks | 0.5 |
| U+0380..U+07FF: Greek, Cyrillic, Armenian, Hebrew, Arabic, Syriac, ... | 0.75 |
| U+0800..U+1FFF: Indic, Thai, Tibetan, Myanmar, Georgian, Hangul jamo, Khmer, ... | 1.5 |
| U+2000..U+2FFF: punctuation, symbols, arrows, CJK radicals | 1 |
| U+3000..U+FFFF: CJK ideographs, kana, hangul syllables, full-width forms | 1 |
| astral planes: emoji, rare ideographs | 2 |

A byte-level tokenizer never produces more tokens than the text has UTF-8 bytes, so
each text's estimate is capped there; chat formats add `TOKENS_PER_MESSAGE` per message
and `REPLY_PRIMING_TOKENS` per request for role markers. Settlement never uses these
figures: it uses the usage the provider reports.
"""

from __future__ import annotations

from collections.abc import Sequence

TOKENS_PER_MESSAGE = 4
REPLY_PRIMING_TOKENS = 3

# The UTF-8 lead byte of a character names its block; continuation bytes (0x80..0xBF)
# are dropped. Each remaining byte becomes its weight in quarter tokens.
_QUARTERS = 4
_HEAVY_ASCII = b"0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_WEIGHTS = bytearray(256)
for _byte in range(0x80):
    _WEIGHTS[_byte] = 2 if bytes([_byte]) in _HEAVY_ASCII else 1
for _low, _high, _weight in (
    (0xC0, 0xCD, 2),  # U+0000..U+037F (two-byte forms of Latin)
    (0xCE, 0xDF, 3),  # U+0380..U+07FF
    (0xE0, 0xE1, 6),  # U+0800..U+1FFF
    (0xE2, 0xEF, 4),  # U+2000..U+FFFF
    (0xF0, 0xFF, 8),  # U+10000 and up
):
    for _byte in range(_low, _high + 1):
        _WEIGHTS[_byte] = _weight
_CONTINUATION = bytes(range(0x80, 0xC0))
_TO_WEIGHT = bytes(_WEIGHTS)
_CJK_LEADS = bytes(range(0xE3, 0xF0))  # U+3000..U+FFFF
_LATIN_LEADS = bytes(range(0x80)) + bytes(range(0xC0, 0xCE))

SCRIPTS = ("latin", "cjk", "other")


def estimate_tokens(text: str) -> int:
    """Conservative token count of one text (no per-message overhead)."""
    if not text:
        return 0
    encoded = text.encode()
    weights = encoded.translate(_TO_WEIGHT, _CONTINUATION)
    quarters = sum(weight * weights.count(weight) for weight in (1, 2, 3, 4, 6, 8))
    return min(-(-quarters // _QUARTERS), len(encoded))


def estimate_prompt_tokens(contents: Sequence[str]) -> int:
    """What a provider will count for a conversation: each message's text plus its role
    markers, plus the reply priming."""
    if not contents:
        return 0
    return REPLY_PRIMING_TOKENS + sum(estimate_tokens(c) + TOKENS_PER_MESSAGE for c in contents)


def dominant_script(contents: Sequence[str]) -> str:
    """latin, cjk or other: the script of most of the conversation's characters (a
    bounded label for the estimate-error metric)."""
    leads = b"".join(c.encode().translate(None, _CONTINUATION) for c in contents)
    if not leads:
        return "latin"
    cjk = len(leads) - len(leads.translate(None, _CJK_LEADS))
    latin = len(leads) - len(leads.translate(None, _LATIN_LEADS))
    if 2 * cjk >= len(leads):
        return "cjk"
    if 2 * latin >= len(leads):
        return "latin"
    return "other"
