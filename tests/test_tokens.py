"""The conservative token estimator (switchyard/tokens.py): per-script rates, the byte
ceiling, the message overhead and the script label."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.simulator.answers import estimate_tokens as simulator_tokens
from switchyard.tokens import (
    REPLY_PRIMING_TOKENS,
    TOKENS_PER_MESSAGE,
    dominant_script,
    estimate_prompt_tokens,
    estimate_tokens,
)


def test_english_prose_stays_near_four_characters_per_token() -> None:
    """Plain English is estimated about as before (rule thresholds keep their meaning),
    a little above it."""
    text = "Explain how database indexes speed up queries on large tables"
    assert len(text) // 4 <= estimate_tokens(text) <= len(text) // 3


def test_japanese_is_a_token_per_character() -> None:
    """Kana and kanji count one token each: 4x the old four-characters-per-token figure."""
    text = "日本語のプロンプトです" * 10
    assert estimate_tokens(text) == len(text)


def test_other_scripts_cost_more_than_latin() -> None:
    """Cyrillic and Devanagari are dearer per character than ASCII letters."""
    n = 40
    latin = estimate_tokens("a" * n)
    assert estimate_tokens("д" * n) > latin
    assert estimate_tokens("न" * n) > estimate_tokens("д" * n)


def test_digits_and_punctuation_weigh_more_than_letters() -> None:
    """Code and numbers split into more tokens than prose."""
    assert estimate_tokens("{}();[]" * 4) > estimate_tokens("abcdefg" * 4)
    assert estimate_tokens("1234567" * 4) > estimate_tokens("abcdefg" * 4)


def test_prompt_adds_role_markers_and_reply_priming() -> None:
    """Each message adds its role markers; the conversation adds the reply priming."""
    assert estimate_prompt_tokens([]) == 0
    assert estimate_prompt_tokens(["abcd", "abcd"]) == 2 * (1 + TOKENS_PER_MESSAGE) + (
        REPLY_PRIMING_TOKENS
    )


def test_dominant_script_labels() -> None:
    """The metric label: latin, cjk or other, by the script of most characters."""
    assert dominant_script(["hello there"]) == "latin"
    assert dominant_script(["日本語のテキスト", "ok"]) == "cjk"
    assert dominant_script(["Привет мир"]) == "other"
    assert dominant_script([]) == "latin"


@given(st.text(max_size=300))
def test_never_above_the_utf8_bytes(text: str) -> None:
    """A byte-level tokenizer cannot produce more tokens than bytes: neither does the
    estimate."""
    assert estimate_tokens(text) <= len(text.encode())


@given(st.text(max_size=300))
def test_never_below_four_characters_per_token(text: str) -> None:
    """Every character weighs at least a quarter token: no text estimates lower than the
    old figure, so nothing planned before is planned cheaper now."""
    assert estimate_tokens(text) >= -(-len(text) // 4)


@given(st.text(max_size=300))
def test_covers_what_the_simulator_bills(text: str) -> None:
    """The simulator bills a token per CJK character and ~4 characters per token for the
    rest (as real tokenizers roughly do); the estimate reserves at least that, up to
    rounding of the two parts."""
    assert estimate_tokens(text) + 1 >= simulator_tokens(text)


@given(st.text(max_size=150), st.text(max_size=150))
def test_concatenation_is_subadditive(a: str, b: str) -> None:
    """Splitting a text into messages never lowers the estimate by more than rounding."""
    assert estimate_tokens(a + b) <= estimate_tokens(a) + estimate_tokens(b) + 1
