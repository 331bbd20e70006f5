"""Prompt features: the hand-rolled hashing equals sklearn's HashingVectorizer, the
memoised tokenisation equals WordLlama's tokenizer, and WordLlama loads offline."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
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
