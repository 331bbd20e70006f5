"""Prompt features: the hand-rolled hashing equals sklearn's HashingVectorizer, the
memoised tokenisation equals WordLlama's tokenizer, and WordLlama loads offline."""

from __future__ import annotations

import math
import socket
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import HashingVectorizer

from switchyard.learning import features
from switchyard.learning.features import (
    EmbeddingSpec,
    HashingSpec,
    PromptFeaturizer,
    TextWindow,
    default_spec,
    embedder,
)

TEXTS = [
    "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and "
    "bakes muffins for her friends every day with four. How much in dollars does she "
    "make every day at the farmers' market?",
    "Which of these is a prime?\nA. 21\nB. 33\nC. 37\nD. 39\nAnswer:",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)  # explain this",
    "Translate to German: The cat sat on the mat, the mat sat on the cat.",
    "",
    " ",
    "a",
    "I a x y z",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\nand   runs    of spaces",
    "UPPER lower MiXeD ÉCOLE straße",
    "émoji 🎉🎉 and 日本語のテキスト and ½ ≈ 0.5",
    "repeated repeated repeated words words words " * 20,
    "a literal <s> special token </s> in the text",
    "x" * 300,
    # The fast paths: one space between words (split on " "), or not (the piece regex).
    "one space between every word, and punctuation: like this; (or that)!",
    "double  spaces, a trailing one ",
    " a leading space",
    "a literal \u2581 piece mark\u2581inside",
    "numbers 12345 3.14159 -7 1e10 and 2024-06-01",
    "Ελληνικά ΣΟΦΟΣ ΟΔΟΣ σίσυφος: final sigma across   spaces ΑΣ",
    "under_score snake_case __dunder__ a_b",
    "non\u00a0breaking\u2003em space\u3000ideographic\x1cfile separator",
    "long " + " ".join(f"w{i}x{i * 7 % 13}" for i in range(400)) + " end",
    # Words only where the word window reads and the char window does not: an empty
    # last block in a feature row.
    " " * 160 + "words in the middle only" + " " * 200,
    "a literal\u2581 before a space",
]


def _dense(columns: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    row = np.zeros(n)
    np.add.at(row, columns, values)  # a column may repeat: entries add up
    return row


@pytest.mark.parametrize(
    ("analyzer", "low", "high", "alternate_sign"),
    [
        ("word", 1, 1, True),
        ("word", 1, 2, True),
        ("word", 2, 3, False),
        ("char_wb", 3, 4, True),
        ("char_wb", 2, 5, False),
        ("char_wb", 4, 4, True),
    ],
)
def test_hashing_equals_sklearn(analyzer: str, low: int, high: int, alternate_sign: bool) -> None:
    """Every text gives sklearn's row exactly; 2**10 columns force collisions, so the
    summing and the norm over shared columns are checked too."""
    window = TextWindow(120, 40)
    spec = HashingSpec(analyzer, low, high, 2**10, window, alternate_sign=alternate_sign)
    vectorizer = HashingVectorizer(
        analyzer=analyzer,
        ngram_range=(low, high),
        n_features=2**10,
        alternate_sign=alternate_sign,
    )
    for text in TEXTS:
        expected = vectorizer.transform([window.apply(text)]).toarray()[0]
        columns, values = spec.hashed(text)
        np.testing.assert_allclose(_dense(columns, values, 2**10), expected, atol=1e-12)
        # Twice: the memoised second call must give the same row.
        again = spec.hashed(text)
        np.testing.assert_array_equal(again[1], values)


def test_hashing_equals_sklearn_across_blocks_of_other_widths() -> None:
    """Blocks of different widths (one not a power of two) in one row: each block's
    columns are its own remainder, then shifted by its offset."""
    window = TextWindow(120, 40)
    specs = [HashingSpec("word", 1, 2, 1000, window), HashingSpec("char_wb", 3, 4, 2**10, window)]
    vectorizers = [
        HashingVectorizer(
            analyzer=s.analyzer, ngram_range=(s.ngram_min, s.ngram_max), n_features=s.n_features
        )
        for s in specs
    ]
    hashers = [features._hasher(spec) for spec in specs]
    for text in TEXTS:
        columns, values = features.hashed_rows([(hashers[0], text, 0), (hashers[1], text, 1000)])
        expected = np.concatenate(
            [v.transform([window.apply(text)]).toarray()[0] for v in vectorizers]
        )
        np.testing.assert_allclose(_dense(columns, values, 1000 + 2**10), expected, atol=1e-12)


# Text that exercises every path: spaces of several kinds and runs, "▁", a special
# token's literal, non-ASCII letters and marks, digits and punctuation.
_ALPHABET = st.sampled_from(
    [
        " ",
        " ",
        " ",
        "  ",
        "\n",
        "\t",
        "\u00a0",
        "\u2581",
        "<s>",
        "</s>",
        "_",
        "'",
        ".",
        ",",
        "?",
        "a",
        "b",
        "e",
        "t",
        "th",
        "ing",
        "Z",
        "0",
        "7",
        "é",
        "ß",
        "Σ",
        "ς",
        "日本",
        "🎉",
        "\u0301",
    ]
)
_TEXTS = st.lists(_ALPHABET, max_size=60).map("".join)


@settings(max_examples=150, deadline=None)
@given(_TEXTS)
def test_any_text_hashes_as_sklearn_does(text: str) -> None:
    """Whatever the text, both analyzers give sklearn's row (memo and fast paths)."""
    window = TextWindow(40, 20)
    for analyzer, low, high in (("word", 1, 2), ("char_wb", 3, 4)):
        spec = HashingSpec(analyzer, low, high, 2**10, window)
        vectorizer = HashingVectorizer(analyzer=analyzer, ngram_range=(low, high), n_features=2**10)
        expected = vectorizer.transform([window.apply(text)]).toarray()[0]
        columns, values = spec.hashed(text)
        np.testing.assert_allclose(_dense(columns, values, 2**10), expected, atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(_TEXTS)
def test_any_text_tokenises_as_the_tokenizer_does(text: str) -> None:
    """Whatever the text, the memoised ids are the tokenizer's."""
    embed = embedder(EmbeddingSpec())
    expected = embed.tokenizer.encode(text, add_special_tokens=False).ids
    assert embed.token_ids(text).tolist() == expected


def test_grams_are_sklearns_analyzer() -> None:
    """The reference n-gram lists equal sklearn's analyzer output, in order."""
    for analyzer, low, high in (("word", 1, 2), ("char_wb", 3, 5)):
        spec = HashingSpec(analyzer, low, high, 2**10, TextWindow(10_000, 0))
        analyze = HashingVectorizer(analyzer=analyzer, ngram_range=(low, high)).build_analyzer()
        for text in TEXTS:
            assert spec.grams(text) == analyze(text)


def test_text_window_keeps_head_and_tail() -> None:
    """A long text is read as its head and tail; a short one whole."""
    window = TextWindow(3, 2)
    assert window.apply("abcde") == "abcde"
    assert window.apply("abcdefgh") == "abc\ngh"
    assert TextWindow(3, 0).apply("abcdefgh") == "abc\n"


def test_token_ids_equal_the_tokenizer() -> None:
    """The memoised piece-by-piece tokenisation is the tokenizer's, on every text."""
    embed = embedder(EmbeddingSpec())
    for text in TEXTS:
        expected = embed.tokenizer.encode(text, add_special_tokens=False).ids
        assert embed.token_ids(text).tolist() == expected, repr(text)


def _bpe_tokenizer(vocab: list[str], *, pre_tokenizer: bool = False) -> object:
    """A tiny BPE tokenizer normalised as WordLlama's is (byte fallback, no merges)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    tokenizer = Tokenizer(models.BPE({t: i for i, t in enumerate(vocab)}, [], byte_fallback=True))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")]
    )
    if pre_tokenizer:
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


def test_pieces_split_exactly_only_where_no_token_crosses_a_boundary() -> None:
    """The shipped vocabulary allows the piece split (so the memo path is the one the
    other tests check); a token holding a newline, a tab or an inner "▁", or a
    pre-tokeniser, sends every text to the tokenizer whole."""
    assert features._splits_exactly(embedder(EmbeddingSpec()).tokenizer)
    base = ["<unk>", "\u2581", "a", "b", "\u2581\u2581", "\u2581a"]
    assert features._splits_exactly(_bpe_tokenizer(base))
    for extra in ("a\nb", "\t", "a\u2581b", "a\u2581"):
        assert not features._splits_exactly(_bpe_tokenizer([*base, extra])), repr(extra)
    assert not features._splits_exactly(_bpe_tokenizer(base, pre_tokenizer=True))


def test_embedding_equals_wordllama_embed() -> None:
    """The embedding is WordLlama's normalised mean pool of the windowed text."""
    spec = EmbeddingSpec()
    model = features._load_wordllama(spec.config, spec.dim)
    embed = embedder(spec)
    assert not embed("").any()
    for text in filter(None, TEXTS):
        expected = model.embed([spec.window.apply(text)], norm=True)[0]
        np.testing.assert_allclose(embed(text), expected, atol=1e-5)


def test_truncated_embedding_equals_wordllama_trunc_dim() -> None:
    """A smaller `dim` is WordLlama's own Matryoshka truncation of the shipped weights."""
    import wordllama

    spec = EmbeddingSpec(dim=128)
    package = Path(wordllama.__file__).resolve().parent
    model = wordllama.WordLlama.load(cache_dir=package, disable_download=True, trunc_dim=128)
    embed = embedder(spec)
    for text in filter(None, TEXTS):
        expected = model.embed([spec.window.apply(text)], norm=True)[0]
        np.testing.assert_allclose(embed(text), expected, atol=1e-5)


def test_wordllama_loads_with_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The weights ship in the wheel: loading never opens a connection."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("WordLlama tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    features._load_wordllama.cache_clear()
    model = features._load_wordllama("l2_supercat", 256)
    assert model.embedding.shape == (32000, 256)


def test_unknown_task_type_is_all_zeros() -> None:
    """A task type the spec does not know sets no one-hot column; a known one sets one;
    an empty one is chat."""
    spec = default_spec()
    featurizer = PromptFeaturizer(spec)
    task_block = slice(spec.embedding.dim + len(spec.dense_scalars), None)
    assert not featurizer.features("hello", "astrology").dense[task_block].any()
    assert featurizer.features("hello", "math").dense[task_block].sum() == 1.0
    # An empty task type means "chat", as everywhere in Switchyard.
    np.testing.assert_array_equal(
        featurizer.features("hello", "").dense, featurizer.features("hello", "chat").dense
    )


def test_feature_spec_round_trips_json() -> None:
    """The spec stored in an artefact rebuilds the same spec."""
    spec = default_spec()
    assert features.FeatureSpec.from_json(spec.to_json()) == spec
    with pytest.raises(features.FeatureSpecError):
        features.FeatureSpec.from_json({**spec.to_json(), "version": 2})


def test_a_feature_row_is_sklearns_blocks_side_by_side() -> None:
    """features() hashes both blocks in one pass: its row is sklearn's word row, then
    its char row shifted by the word block's width, each normalised on its own."""
    spec = default_spec()
    featurizer = PromptFeaturizer(spec)
    vectorizers = [
        HashingVectorizer(
            analyzer=block.analyzer,
            ngram_range=(block.ngram_min, block.ngram_max),
            n_features=block.n_features,
            alternate_sign=block.alternate_sign,
        )
        for block in (spec.word, spec.char)
    ]
    for text in [*TEXTS, "x" * 2000 + " tail words here"]:
        row = featurizer.features(text, "chat")
        expected = np.concatenate(
            [
                v.transform([block.window.apply(text)]).toarray()[0]
                for v, block in zip(vectorizers, (spec.word, spec.char), strict=True)
            ]
        )
        got = _dense(row.hashed_columns, row.hashed_values, spec.n_hashed)
        np.testing.assert_allclose(got, expected, atol=1e-12)


def test_the_key_holds_all_the_features_depend_on() -> None:
    """Prompts with one key have one feature row (a long prompt's middle is never read);
    a change in the head, the tail, the length or the task type changes the key."""
    featurizer = PromptFeaturizer(default_spec())
    head, tail = "Solve this: " + "a b c " * 60, " and say why." + " z" * 60
    one = head + "first middle " * 50 + tail
    two = head + "other middle " * 50 + tail
    assert len(one) == len(two) and featurizer.key(one, "math") == featurizer.key(two, "math")
    a, b = featurizer.features(one, "math"), featurizer.features(two, "math")
    np.testing.assert_array_equal(a.hashed_columns, b.hashed_columns)
    np.testing.assert_array_equal(a.hashed_values, b.hashed_values)
    np.testing.assert_array_equal(a.dense, b.dense)
    key = featurizer.key(one, "math")
    assert len(key[0]) + len(key[1]) <= 400
    for other in (
        "s" + one[1:],  # head
        one[:-1] + "!",  # tail
        one + " ",  # length
    ):
        assert featurizer.key(other, "math") != key
    assert featurizer.key(one, "code") != key
    assert featurizer.key("short", "chat") == ("short", "", 5, "chat")


class _FixedHashes:
    """A block whose n-grams hash to given values: hashes no real text reaches easily."""

    def __init__(self, hashes: list[int], n_features: int) -> None:
        self.hashes = hashes
        self.spec = HashingSpec("word", 1, 1, n_features, TextWindow(10, 0))

    def hash_bytes(self, _text: str) -> bytes:
        return np.asarray(self.hashes, "<i8").tobytes()


def test_a_zero_hash_counts_as_positive_and_min_int_maps_as_sklearn() -> None:
    """sklearn signs a hash of 0 +1 and maps -2**31 to column 2**31 % n_features."""
    block = _FixedHashes([0, -(2**31), 5, 6], 2**10)
    columns, values = features.hashed_rows([(block, "", 0)])  # type: ignore[list-item]
    assert columns.tolist() == [0, 2**31 % 2**10, 5, 6] == [0, 0, 5, 6]
    # +1 and -1 cancel in column 0; columns 5 and 6 hold 1 each: the norm is sqrt(2).
    np.testing.assert_allclose(values, np.array([1, -1, 1, 1]) / math.sqrt(2))
