"""Prompt features for the learned quality predictors: one definition for training and
inference, so a router rebuilds exactly the features an artefact was fitted on.

A prompt becomes three blocks:

- hashed word n-grams and hashed character n-grams (within word boundaries), each
  counted, signed and L2-normalised exactly as scikit-learn's `HashingVectorizer` does
  for the same settings (tests/learning/test_predictor_features.py proves the parity),
  but computed here with numpy and MurmurHash3 (`mmh3`, the function scikit-learn
  uses): sklearn's `transform` costs ~0.7 ms per prompt, over the router's budget;
- a WordLlama sentence embedding (mean of token vectors, L2-normalised), whose wheel
  ships its weights, loaded once per process with downloads disabled;
- dense scalars: the prompt's log length and a one-hot of its task type.

Long prompts are read through a window (their head and tail), so feature cost, and the
router's latency, stay bounded whatever a client sends; lengths use the full text.
The spec is stored in the artefact; changing a default here never changes how an
existing artefact is read.
"""

from __future__ import annotations

import json
import logging
import math
import re
import struct
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from itertools import accumulate
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

import mmh3
import numpy as np

from switchyard.tasks import DEFAULT_TASK_TYPE, TASK_TYPES

# scikit-learn's defaults: the parity test builds a HashingVectorizer with these.
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_TOKENS = re.compile(TOKEN_PATTERN)
# The same tokens, found faster: a greedy run of two or more word characters starts and
# ends at word boundaries anyway (tests compare with sklearn on any text).
_WORD_TOKENS = re.compile(r"\w\w+")
ANALYZERS = ("word", "char_wb")


class FeatureSpecError(ValueError):
    """A feature spec this code cannot rebuild (unknown analyzer, embedding, version)."""


@dataclass(frozen=True)
class TextWindow:
    """The head and tail of a long text; a text no longer than both is read whole."""

    head_chars: int
    tail_chars: int

    def apply(self, text: str) -> str:
        if len(text) <= self.head_chars + self.tail_chars:
            return text
        tail = text[len(text) - self.tail_chars :] if self.tail_chars else ""
        return text[: self.head_chars] + "\n" + tail


@dataclass(frozen=True)
class HashingSpec:
    """One hashed n-gram block: HashingVectorizer(analyzer, ngram_range, n_features,
    alternate_sign, lowercase=True, norm="l2") over the windowed text."""

    analyzer: str
    ngram_min: int
    ngram_max: int
    n_features: int
    window: TextWindow
    alternate_sign: bool = True

    def __post_init__(self) -> None:
        if self.analyzer not in ANALYZERS:
            raise FeatureSpecError(f"analyzer {self.analyzer!r} is not one of {ANALYZERS}")
        if not 1 <= self.ngram_min <= self.ngram_max:
            raise FeatureSpecError(f"bad n-gram range {self.ngram_min}..{self.ngram_max}")
        if self.n_features < 2:
            raise FeatureSpecError("n_features must be at least 2")

    def grams(self, text: str) -> list[str]:
        """The n-grams scikit-learn's analyzer yields for `text` (same order)."""
        doc = self.window.apply(text).lower()
        if self.analyzer == "word":
            return _word_ngrams(_TOKENS.findall(doc), self.ngram_min, self.ngram_max)
        return _char_wb_ngrams(doc, self.ngram_min, self.ngram_max)

    def hashed(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(columns, values) of the normalised row; see `_Hasher.__call__`."""
        return _hasher(self)(text)


class _Memo(dict):  # type: ignore[type-arg]
    """A bounded cache of a pure function, read at C speed with `map(memo.__getitem__,
    keys)`; emptied when full, which changes only speed, never a result."""

    def __init__(self, compute: Any, max_entries: int = 200_000) -> None:
        super().__init__()
        self.compute = compute
        self.max_entries = max_entries

    def __missing__(self, key: Any) -> Any:
        if len(self) >= self.max_entries:
            self.clear()
        value = self[key] = self.compute(key)
        return value


def _packed(hashes: Iterable[int]) -> bytes:
    """Signed 64-bit little-endian integers, as `np.frombuffer(..., "<i8")` reads them."""
    values = list(hashes)
    return _int64s(len(values)).pack(*values)


@lru_cache(maxsize=512)
def _int64s(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}q")


class _Hasher:
    """`HashingSpec.hashed`, fast: the signed MurmurHash3 of every n-gram, summed per
    column. Equal to hashing `HashingSpec.grams` one by one, which tests compare with
    sklearn's HashingVectorizer.

    Char n-grams never cross whitespace, so each word's hashes are memoised, packed as
    int64 bytes; a prompt's hashes are then one bytes join and one array (a numpy call
    costs about a microsecond whatever its size). Word n-grams are hashed each time: a
    memo per token or chunk saves instructions but costs more in cache misses on a
    busy machine than the hashing it saves (docs/predictors.md).
    """

    def __init__(self, spec: HashingSpec) -> None:
        self.spec = spec
        low, high = spec.ngram_min, spec.ngram_max
        self.char_words = _Memo(
            lambda word: _packed(map(mmh3.hash, _word_char_ngrams(word, low, high)))
        )

    def hash_bytes(self, text: str) -> bytes:
        """`signed_hashes` packed as int64 bytes."""
        spec = self.spec
        doc = spec.window.apply(text).lower()
        if spec.analyzer == "char_wb":
            return b"".join(map(self.char_words.__getitem__, doc.split()))
        tokens = _WORD_TOKENS.findall(doc)
        parts: list[bytes] = []
        if spec.ngram_min == 1:
            parts.append(_packed(map(mmh3.hash, tokens)))
        for n in range(max(spec.ngram_min, 2), spec.ngram_max + 1):
            grams = map(" ".join, zip(*(tokens[i:] for i in range(n)), strict=False))
            parts.append(_packed(map(mmh3.hash, grams)))
        return b"".join(parts)

    def signed_hashes(self, text: str) -> np.ndarray:
        """The signed 32-bit MurmurHash3 of every n-gram of the windowed text, in order."""
        return np.frombuffer(self.hash_bytes(text), "<i8")

    def __call__(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(columns, values) of the normalised row: `hashed_rows` of this block alone."""
        return hashed_rows([(self, text, 0)])


_SCRATCH = threading.local()


def _scratch(width: int) -> np.ndarray:
    """A zeroed buffer of `width` per thread (left zeroed after each use)."""
    buffers = getattr(_SCRATCH, "buffers", None)
    if buffers is None:
        buffers = _SCRATCH.buffers = {}
    buffer = buffers.get(width)
    if buffer is None:
        buffer = buffers[width] = np.zeros(width)
    return buffer


def hashed_rows(blocks: Sequence[tuple[_Hasher, str, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(columns, values) of one prompt's hashed blocks side by side: each block is
    (hasher, text, column offset) and is L2-normalised on its own, as sklearn's
    HashingVectorizer normalises its row.

    A column repeats when n-grams share it; its value is then the sum of its entries,
    as a dot product or a CSR matrix reads it (deduplicating costs more than the rest:
    sorts are slow here). The blocks share each array operation, so a prompt costs a
    few numpy calls whatever the number of blocks."""
    hashes = [hasher.hash_bytes(text) for hasher, text, _ in blocks]
    joined = np.frombuffer(b"".join(hashes), "<i8")
    if not len(joined):
        return np.empty(0, np.int64), np.empty(0, np.float64)
    # Each numpy call costs about a microsecond whatever its size (a few hundred
    # entries here), so the blocks share every call they can.
    # abs in int64 maps -2**31 the way sklearn's special case does.
    columns = np.abs(joined)
    signs = np.copysign(1.0, joined)  # a hash of 0 counts as positive, as in sklearn
    ends = [end // 8 for end in accumulate(map(len, hashes))]
    spans = list(zip([0, *ends[:-1]], ends, strict=True))
    widths = {hasher.spec.n_features for hasher, _, _ in blocks}
    width = widths.pop() if len(widths) == 1 else 0
    if width and not width & (width - 1):  # one power of two: the remainder is a mask
        np.bitwise_and(columns, width - 1, out=columns)
    for (hasher, _, offset), (start, end) in zip(blocks, spans, strict=True):
        if not width or width & (width - 1):
            np.remainder(columns[start:end], hasher.spec.n_features, out=columns[start:end])
        if offset:
            columns[start:end] += offset
        if not hasher.spec.alternate_sign:
            signs[start:end] = 1.0
    # |row|^2 = sum over entries of sign * (the column's summed value). Column sums are
    # small integers, so any order of summation gives the same, exact, norm.
    column_sums = _scratch(max(offset + h.spec.n_features for h, _, offset in blocks))
    np.add.at(column_sums, columns, signs)
    squares = column_sums.take(columns)
    squares *= signs
    column_sums[columns] = 0.0
    if all(end > start for start, end in spans):
        squared_norms = np.add.reduceat(squares, [start for start, _ in spans]).tolist()
    else:  # reduceat reads an empty span as its next entry
        squared_norms = [float(squares[start:end].sum()) for start, end in spans]
    for (start, end), squared in zip(spans, squared_norms, strict=True):
        if squared > 0:
            signs[start:end] /= math.sqrt(squared)
    return columns, signs


@lru_cache(maxsize=16)
def _hasher(spec: HashingSpec) -> _Hasher:
    return _Hasher(spec)


def _word_ngrams(tokens: list[str], low: int, high: int) -> list[str]:
    grams = list(tokens) if low == 1 else []
    join = " ".join
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        grams.extend(join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def _char_wb_ngrams(doc: str, low: int, high: int) -> list[str]:
    # sklearn first collapses whitespace runs; split() with no argument does that too.
    return [gram for word in doc.split() for gram in _word_char_ngrams(word, low, high)]


def _word_char_ngrams(word: str, low: int, high: int) -> tuple[str, ...]:
    """One word's char_wb n-grams, as sklearn yields them (see `_gram_slicer`)."""
    return _gram_slicer(len(word) + 2, low, high)(" " + word + " ")


@lru_cache(maxsize=1024)
def _gram_slicer(size: int, low: int, high: int) -> Any:
    """A function that cuts a padded word of `size` characters into its char_wb n-grams,
    all in one C call: every window of each size from low to high; a word no longer
    than n counts once, whole, and ends the sizes (sklearn's rule)."""
    slices: list[slice] = []
    for n in range(low, high + 1):
        if size <= n:
            slices.append(slice(0, size))
            break
        slices += [slice(i, i + n) for i in range(size - n + 1)]
    if len(slices) == 1:  # itemgetter of one item returns it bare
        return lambda padded: (padded,)
    return itemgetter(*slices)


@dataclass(frozen=True)
class EmbeddingSpec:
    """A WordLlama model shipped in its wheel (config name, dimension of its weights
    file), used at `dim` <= that: its Matryoshka-trained vectors truncate cleanly."""

    config: str = "l2_supercat"
    dim: int = 256
    weights_dim: int = 256
    window: TextWindow = TextWindow(300, 100)


@dataclass(frozen=True)
class FeatureSpec:
    """Everything inference needs to rebuild the training features; stored in artefacts."""

    word: HashingSpec
    char: HashingSpec
    embedding: EmbeddingSpec
    task_types: tuple[str, ...]
    version: int = 1
    # Column layout: [word | char] hashed, then dense [embedding | log length | task one-hot].
    dense_scalars: tuple[str, ...] = field(default=("log_prompt_chars",))

    @property
    def n_hashed(self) -> int:
        return self.word.n_features + self.char.n_features

    @property
    def n_dense(self) -> int:
        return self.embedding.dim + len(self.dense_scalars) + len(self.task_types)

    def dense_names(self) -> list[str]:
        return [
            *(f"embedding_{i}" for i in range(self.embedding.dim)),
            *self.dense_scalars,
            *(f"task={t}" for t in self.task_types),
        ]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FeatureSpec:
        try:
            if raw["version"] != 1:
                raise FeatureSpecError(f"feature spec version {raw['version']!r} is not 1")
            if list(raw["dense_scalars"]) != ["log_prompt_chars"]:
                raise FeatureSpecError(f"unknown dense scalars {raw['dense_scalars']!r}")
            return cls(
                word=_hashing_from_json(raw["word"]),
                char=_hashing_from_json(raw["char"]),
                embedding=EmbeddingSpec(
                    config=str(raw["embedding"]["config"]),
                    dim=int(raw["embedding"]["dim"]),
                    weights_dim=int(raw["embedding"]["weights_dim"]),
                    window=TextWindow(**raw["embedding"]["window"]),
                ),
                task_types=tuple(str(t) for t in raw["task_types"]),
                version=1,
                dense_scalars=("log_prompt_chars",),
            )
        except (KeyError, TypeError) as exc:
            raise FeatureSpecError(f"malformed feature spec: {exc!r}") from exc


def _hashing_from_json(raw: Mapping[str, Any]) -> HashingSpec:
    return HashingSpec(
        analyzer=str(raw["analyzer"]),
        ngram_min=int(raw["ngram_min"]),
        ngram_max=int(raw["ngram_max"]),
        n_features=int(raw["n_features"]),
        window=TextWindow(**raw["window"]),
        alternate_sign=bool(raw["alternate_sign"]),
    )


def default_spec(task_types: Sequence[str] = tuple(sorted(TASK_TYPES))) -> FeatureSpec:
    """The one set of feature settings every dataset is trained with.

    Chosen on train-only validation slices of GSM8K, MMLU and RouterArena against the
    router's latency budget: against 800-character windows, 2**18 columns and 256
    dimensions these cost at most +0.004 validation log loss on any of them and ~30 %
    less time per request (docs/predictors.md)."""
    return FeatureSpec(
        word=HashingSpec("word", 1, 2, 2**16, TextWindow(300, 100)),
        char=HashingSpec("char_wb", 3, 4, 2**16, TextWindow(150, 50)),
        embedding=EmbeddingSpec(dim=128, window=TextWindow(300, 100)),
        task_types=tuple(task_types),
    )


# -- WordLlama ---------------------------------------------------------------------


# The tokenizer's normaliser turns spaces into this and prepends one; it has no
# pre-tokeniser, so BPE runs over the whole text, ~0.25 µs a character.
_SPACE = "\u2581"
# No vocabulary token holds a newline or a tab (both are byte-fallback tokens), so no
# merge crosses one either: a piece also ends before each. "word\nA." is then the memo
# hits "word" and "\nA." instead of a new piece for BPE.
_BREAKS = "\n\t"
_PIECES = re.compile(f"{_SPACE}+[^{_SPACE}{_BREAKS}]*|[{_BREAKS}][^{_SPACE}{_BREAKS}]*")


class _Embedder:
    """`WordLlamaInference.embed(text, norm=True)`: the mean of the text's token vectors.

    No token of WordLlama's vocabulary holds a "▁" after another character, or a
    newline or tab at all, so no BPE merge crosses the start of a piece (`_PIECES`):
    the text's tokens are its pieces' tokens, which are memoised (tests compare with
    `tokenizer.encode`). `_splits_exactly` checks that on the loaded vocabulary; a
    tokenizer it does not hold for encodes every text whole. A text holding a special
    token's literal (`<s>`) is encoded whole, as the tokenizer would split it out."""

    def __init__(self, spec: EmbeddingSpec) -> None:
        model = _load_wordllama(spec.config, spec.weights_dim)
        self.tokenizer = model.tokenizer
        if not 0 < spec.dim <= model.embedding.shape[1]:
            raise FeatureSpecError(
                f"embedding dim {spec.dim} is not in 1..{model.embedding.shape[1]}"
            )
        self.table = np.ascontiguousarray(model.embedding[:, : spec.dim])
        self.window = spec.window
        specials = [t.content for t in self.tokenizer.get_added_tokens_decoder().values()]
        self.specials = tuple(specials)
        self._special = re.compile("|".join(map(re.escape, specials))) if specials else None
        self._whole = not _splits_exactly(self.tokenizer)
        bpe = self.tokenizer.model
        token_id = attrgetter("id")
        # Token ids as packed int64 bytes: a text's ids are one bytes join.
        self.pieces = _Memo(lambda piece: _packed(map(token_id, bpe.tokenize(piece))))

    def token_ids(self, text: str) -> np.ndarray:
        if not text:
            return np.empty(0, np.intp)
        if self._whole or (self._special is not None and self._special.search(text)):
            return np.asarray(self.tokenizer.encode(text, add_special_tokens=False).ids, np.intp)
        pieces = _PIECES.findall(_SPACE + text.replace(" ", _SPACE))
        return _ids(b"".join(map(self.pieces.__getitem__, pieces)))

    def __call__(self, text: str) -> np.ndarray:
        ids = self.token_ids(self.window.apply(text))
        if not len(ids):
            return np.zeros(self.table.shape[1], np.float32)
        # The normalised mean is the normalised sum; a product with ones sums the rows
        # several times faster than a reduce does here.
        total = np.ones(len(ids), np.float32) @ self.table.take(ids, axis=0)
        norm = math.sqrt(float(total @ total))
        return total * (1.0 / norm) if norm > 0 else total


def _splits_exactly(tokenizer: Any) -> bool:
    """Whether a text's tokens are its `_PIECES`' tokens: the normaliser and BPE model
    `_Embedder` assumes, no pre-tokeniser, and no vocabulary token a piece boundary
    could fall inside (a "▁" after another character, a newline or a tab anywhere)."""
    config = json.loads(tokenizer.to_str())
    expected_normalizer = {
        "type": "Sequence",
        "normalizers": [
            {"type": "Prepend", "prepend": _SPACE},
            {"type": "Replace", "pattern": {"String": " "}, "content": _SPACE},
        ],
    }
    if config.get("normalizer") != expected_normalizer or config.get("pre_tokenizer"):
        return False
    if config.get("model", {}).get("type") != "BPE":
        return False
    return not any(
        _SPACE in token.lstrip(_SPACE) or any(c in token for c in _BREAKS)
        for token in tokenizer.get_vocab()
    )


def _ids(packed: bytes) -> np.ndarray:
    return np.frombuffer(packed, "<i8").astype(np.intp, copy=False)


@lru_cache(maxsize=4)
def _load_wordllama(config: str, dim: int) -> Any:
    """WordLlama from the weights its wheel ships: never a download."""
    root = logging.getLogger()
    guard = None
    if not root.handlers:
        # wordllama calls logging.basicConfig(INFO) on import; a handler already in place
        # turns that into a no-op, so it cannot reconfigure the service's logging.
        guard = logging.NullHandler()
        root.addHandler(guard)
    try:
        import wordllama
        from wordllama import WordLlama
    finally:
        if guard is not None:
            root.removeHandler(guard)
    package_dir = Path(wordllama.__file__).resolve().parent
    try:
        return WordLlama.load(config=config, dim=dim, cache_dir=package_dir, disable_download=True)
    except (FileNotFoundError, ValueError, AttributeError) as exc:
        raise FeatureSpecError(
            f"WordLlama {config}/{dim} is not in the installed wordllama package: {exc}"
        ) from exc


@lru_cache(maxsize=4)
def embedder(spec: EmbeddingSpec) -> _Embedder:
    """One embedder per process and spec: loading the table takes ~0.2 s."""
    return _Embedder(spec)


# -- whole feature rows ---------------------------------------------------------------


@dataclass(frozen=True)
class PromptFeatures:
    """One prompt's features: sparse hashed entries (word block first, char block offset
    by word.n_features; a column may repeat, its entries then add up) and the dense
    block."""

    hashed_columns: np.ndarray
    hashed_values: np.ndarray
    dense: np.ndarray


class PromptFeaturizer:
    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self._embed = embedder(spec.embedding)
        self._word = _hasher(spec.word)
        self._char = _hasher(spec.char)
        self._task_index = {t: i for i, t in enumerate(spec.task_types)}
        self._n_fixed = spec.embedding.dim + len(spec.dense_scalars)
        windows = (spec.word.window, spec.char.window, spec.embedding.window)
        self._head = max(w.head_chars for w in windows)
        self._tail = max(w.tail_chars for w in windows)

    def key(self, prompt: str, task_type: str) -> tuple[str, str, int, str]:
        """All that `features(prompt, task_type)` depends on: the longest head and tail
        any block reads (the whole prompt when it is no longer than both), its length
        and the task type. Equal keys give equal features; a key is at most
        head + tail characters, whatever the prompt's size."""
        size = len(prompt)
        if size <= self._head + self._tail:
            return prompt, "", size, task_type
        return prompt[: self._head], prompt[size - self._tail :], size, task_type

    def features(self, prompt: str, task_type: str) -> PromptFeatures:
        spec = self.spec
        columns, values = hashed_rows(
            [(self._word, prompt, 0), (self._char, prompt, spec.word.n_features)]
        )
        dense = np.zeros(spec.n_dense, np.float64)
        dense[: spec.embedding.dim] = self._embed(prompt)
        dense[spec.embedding.dim] = math.log1p(len(prompt)) / 10.0
        task = self._task_index.get(task_type or DEFAULT_TASK_TYPE)
        if task is not None:  # an unknown task type is all zeros, not an error
            dense[self._n_fixed + task] = 1.0
        return PromptFeatures(hashed_columns=columns, hashed_values=values, dense=dense)
