"""Unit tests for regex, blocklist and refusal checks, including hostile inputs."""

from __future__ import annotations

import pytest

from switchyard.checks import CheckSpec, compile_specs, content, verify
from switchyard.checks.content import refusal_cue
from switchyard.runtime.errors import InvalidArgument


def run(output: str, name: str, params: dict | None = None):
    return verify(
        prompt="q",
        task_type="chat",
        output=output,
        finish_reason="stop",
        specs=[CheckSpec(name, params or {})],
    )


def violations(name: str, params: dict) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as info:
        compile_specs([CheckSpec(name, params)])
    return {v.field: v.description for v in info.value.violations}


# --- regex -----------------------------------------------------------------------------


def test_regex_must_match() -> None:
    """A required pattern that is absent rejects and names the pattern."""
    assert run("order 1234", "regex", {"must_match": [r"\d{4}"]}).verdict == "accept"
    result = run("order", "regex", {"must_match": [r"\d{4}"]})
    assert result.verdict == "reject"
    assert result.results[0].reason == "output does not match required regex '\\\\d{4}'"


def test_regex_must_not_match() -> None:
    """A forbidden pattern that is present rejects."""
    params = {"must_not_match": [r"(?i)lorem ipsum"]}
    assert run("real text", "regex", params).verdict == "accept"
    assert "forbidden" in run("Lorem Ipsum dolor", "regex", params).results[0].reason


def test_regex_ignore_case() -> None:
    """ignore_case applies to every pattern of the check."""
    params = {"must_match": ["hello"], "ignore_case": True}
    assert run("HELLO there", "regex", params).verdict == "accept"
    assert run("HELLO there", "regex", {"must_match": ["hello"]}).verdict == "reject"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"must_match": ["(unclosed"]}, "checks[0].params.must_match[0]"),
        ({"must_match": ["ok", "[z-a]"]}, "checks[0].params.must_match[1]"),
        ({"must_not_match": ["x" * 1001]}, "checks[0].params.must_not_match[0]"),
        ({}, "checks[0].params"),
        ({"must_match": "abc"}, "checks[0].params.must_match"),
        ({"must_match": ["a"], "timeout_ms": 5000}, "checks[0].params.timeout_ms"),
        ({"must_match": ["a"], "timeout_ms": 0}, "checks[0].params.timeout_ms"),
    ],
)
def test_regex_invalid_params(params: dict, field: str) -> None:
    """Invalid or oversized patterns are INVALID_ARGUMENT naming the check and the pattern."""
    found = violations("regex", params)
    assert field in found and "'regex'" in found[field]


def test_catastrophic_regex_is_bounded() -> None:
    """An exponential-backtracking pattern times out and rejects instead of hanging."""
    result = run("a" * 5000 + "b", "regex", {"must_match": ["(a|aa)+$"], "timeout_ms": 10})
    assert result.verdict == "reject"
    assert "timed out after 10 ms" in result.results[0].reason


def test_catastrophic_must_not_match_fails_closed() -> None:
    """A timeout on a forbidden pattern also rejects: absence was not shown."""
    result = run("a" * 5000 + "b", "regex", {"must_not_match": ["(a|aa)+$"], "timeout_ms": 5})
    assert result.verdict == "reject" and "timed out" in result.results[0].reason


# --- blocklist -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "verdict"),
    [
        ("That was DARN good", "reject"),
        ("darn.", "reject"),
        ("darned socks", "accept"),  # whole words only
        ("undarn", "accept"),
        ("a heck of a day", "reject"),  # phrase
        ("heck no", "accept"),
        ("visit f*ck.com", "reject"),  # word with punctuation inside
        ("nothing here", "accept"),
    ],
)
def test_blocklist_whole_word_case_insensitive(output: str, verdict: str) -> None:
    """Blocked words match whole-word and case-insensitively; phrases too."""
    params = {"words": ["darn", "heck of a", "f*ck"]}
    assert run(output, "blocklist", params).verdict == verdict


def test_blocklist_reason_names_word() -> None:
    """The reason quotes the word as it appeared and where."""
    result = run("well Darn", "blocklist", {"words": ["darn"]})
    assert result.results[0].reason == "output contains blocked word 'Darn' at offset 5"


@pytest.mark.parametrize("words", [[], ["  "], "darn", [1]])
def test_blocklist_needs_words(words) -> None:
    """An empty or mistyped list is INVALID_ARGUMENT on words."""
    assert "checks[0].params.words" in violations("blocklist", {"words": words})


def test_blocklist_words_are_literal() -> None:
    """Regex metacharacters in words are matched literally, never as patterns."""
    assert run("a.b", "blocklist", {"words": ["a.b"]}).verdict == "reject"
    assert run("axb", "blocklist", {"words": ["a.b"]}).verdict == "accept"


# --- refusal ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "output",
    [
        "I can't help with that.",
        "I’m sorry, but I can’t assist with this request.",
        "I am sorry, I cannot provide that information.",
        "As an AI language model, I cannot browse the internet.",
        "Sorry, but I won't do that.",
        "I must decline this request.",
        "Unfortunately, I am unable to comply.",
        "i'm unable to help with that",
    ],
)
def test_refusal_detected(output: str) -> None:
    """Common refusal openers reject with the phrase quoted."""
    result = run(output, "refusal")
    assert result.verdict == "reject"
    assert result.results[0].reason.startswith("output is a refusal:")


@pytest.mark.parametrize(
    "output",
    [
        "Sure! Here is the code you asked for.",
        "The answer is 42. Note: I can't verify the source, but it is widely cited.",
        "x" * 500 + " I can't help with that.",  # beyond the scanned opening
    ],
)
def test_refusal_not_detected(output: str) -> None:
    """Helpful answers pass, even when they say "I can't" past the opening."""
    assert run(output, "refusal").verdict == "accept"


def test_refusal_extra_phrases_and_scan_window() -> None:
    """Operators can add phrases and widen the scanned opening."""
    assert run("Nope, not doing it.", "refusal", {"extra_phrases": ["not doing it"]}).verdict == (
        "reject"
    )
    late = "x" * 500 + " I can't help with that."
    assert run(late, "refusal", {"scan_chars": 1000}).verdict == "reject"


def test_refusal_guard_is_dropped_when_a_phrase_may_start_anywhere() -> None:
    """Extra phrases that start with an escaped or optional part get no lookahead."""
    from switchyard.checks.content import _first_char_guard, compile_refusal

    assert _first_char_guard(["(?:as|being) an ai", "i can't"]) == "(?=[abi])"
    assert _first_char_guard(["(?:as|being)? an ai"]) == ""
    assert _first_char_guard(["a?b"]) == ""
    assert _first_char_guard([r"\#tag"]) == ""
    assert compile_refusal((" #nope",)).search("well, #nope") is not None


# --- limits and the scorer's refusal cue ---------------------------------------------------


def test_regex_pattern_limits() -> None:
    """32 patterns and 1000-character patterns are allowed; one more of either is refused
    with a message naming the limit; an invalid pattern is quoted."""
    compile_specs([CheckSpec("regex", {"must_match": ["a"] * 32})])
    compile_specs([CheckSpec("regex", {"must_match": ["a" * 1000]})])
    assert violations("regex", {"must_match": ["a"] * 33}) == {
        "checks[0].params.must_match": "check 'regex': at most 32 patterns, got 33"
    }
    assert violations("regex", {"must_not_match": ["b", "a" * 1001]}) == {
        "checks[0].params.must_not_match[1]": "check 'regex': pattern longer than 1000 characters"
    }
    (description,) = violations("regex", {"must_match": ["(a"]}).values()
    assert description.startswith("check 'regex': invalid regex '(a': ")


def test_extra_refusal_phrases_add_to_the_built_in_ones() -> None:
    """With extra phrases, the built-in refusal openers are still recognised."""
    params = {"extra_phrases": ["no can do"]}
    assert run("I'm sorry, but I can't help with that.", "refusal", params).verdict == "reject"
    assert run("No can do, friend.", "refusal", params).verdict == "reject"
    assert run("Here is the answer you asked for.", "refusal", params).verdict == "accept"


def test_refusal_cue_reads_the_start_of_the_text() -> None:
    """refusal_cue (shared with the scorer) returns the whole matched phrase, lower-cased,
    with typographic apostrophes read as plain ones, within the scan window only."""
    assert refusal_cue("I\u2019m sorry, but I can\u2019t do this.") == "i'm sorry, but i can't"
    assert refusal_cue("Sure. Here it is.") is None
    assert refusal_cue("x" * 400 + " I must decline") is None
    assert refusal_cue("Well, I must decline.", scan_chars=20) == "i must decline"
    assert refusal_cue("Well, I must decline.", scan_chars=19) is None


def test_regex_parameter_problems_are_described() -> None:
    """No pattern at all and a timeout over the cap say what to fix; 200 ms is allowed."""
    assert violations("regex", {}) == {
        "checks[0].params": "check 'regex': give at least one pattern in must_match or"
        " must_not_match"
    }
    assert violations("regex", {"must_match": ["a"], "timeout_ms": 201}) == {
        "checks[0].params.timeout_ms": "check 'regex': must be <= 200"
    }
    compile_specs([CheckSpec("regex", {"must_match": ["a"], "timeout_ms": 200})])


def test_regex_without_the_regex_package_is_refused(monkeypatch) -> None:
    """A build lacking the regex package refuses regex checks at compile time, saying why."""
    monkeypatch.setattr(content, "regex", None)
    assert violations("regex", {"must_match": ["a"]}) == {
        "checks[0].params": "check 'regex': this build lacks the 'regex' package the regex"
        " check runs on"
    }


class SteppedClock:
    """time.monotonic stand-in returning the given readings in turn."""

    def __init__(self, *readings: float) -> None:
        self._readings = iter(readings)

    def monotonic(self) -> float:
        return next(self._readings)


@pytest.mark.parametrize(
    ("second_reading", "verdict"),
    [(0.01, "accept"), (0.02, "reject")],
)
def test_regex_budget_is_timeout_ms_from_the_start(monkeypatch, second_reading, verdict) -> None:
    """The whole check has timeout_ms: a pattern starting with budget left runs; one
    starting with none left times out (fail-closed)."""
    monkeypatch.setattr(content, "time", SteppedClock(0.0, second_reading))
    result = run("abc", "regex", {"must_match": ["b"], "timeout_ms": 20})
    assert result.verdict == verdict
    if verdict == "reject":
        assert result.results[0].reason == "regex 'b' timed out after 20 ms"


def test_blocklist_parameter_problems_are_described() -> None:
    """No words (or only blanks, or none given) and too many words say what to fix; the
    10,000-word limit itself is allowed."""
    for params in ({}, {"words": [" "]}):
        assert violations("blocklist", params) == {
            "checks[0].params.words": "check 'blocklist': give at least one non-blank word"
        }
    many = [f"w{i}" for i in range(10_001)]
    assert violations("blocklist", {"words": many}) == {
        "checks[0].params.words": "check 'blocklist': at most 10000 words, got 10001"
    }
    compile_specs([CheckSpec("blocklist", {"words": many[:10_000]})])


def test_blocklist_prefers_the_longest_phrase() -> None:
    """When a word and a longer phrase both match at one place, the phrase is named."""
    result = run("a bad word here", "blocklist", {"words": ["bad", "bad word"]})
    assert result.results[0].reason == "output contains blocked word 'bad word' at offset 2"


def test_blocklist_reason_when_lower_casing_changes_lengths() -> None:
    """If lower-casing changes the text's length (İ), the matched word is quoted from the
    lower-cased text, not cut from the wrong place of the original."""
    result = run("İstanbul darn", "blocklist", {"words": ["darn"]})
    assert result.results[0].reason == "output contains blocked word 'darn' at offset 10"


class RecordingRegex:
    """Stands in for the regex module: patterns that always match and record the
    timeout each search was given."""

    IGNORECASE = 2
    error = ValueError

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    def compile(self, pattern: str, flags: int = 0):
        module = self

        class Pattern:
            def search(self, text: str, timeout: float):
                module.timeouts.append(timeout)
                return object()

        Pattern.pattern = pattern  # type: ignore[attr-defined]
        return Pattern()


def test_each_regex_search_gets_the_rest_of_the_budget(monkeypatch) -> None:
    """The first search gets the whole timeout_ms; each later one what is left of it."""
    fake = RecordingRegex()
    monkeypatch.setattr(content, "regex", fake)
    monkeypatch.setattr(content, "time", SteppedClock(10.0, 10.0, 10.005))
    assert run("abc", "regex", {"must_match": ["a", "b"], "timeout_ms": 20}).verdict == "accept"
    assert fake.timeouts == pytest.approx([0.02, 0.015], abs=1e-12)
