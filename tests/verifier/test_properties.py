"""Property-based tests (hypothesis): verdicts are deterministic and REJECT explains itself."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from switchyard.checks import CHECKS, CheckSpec, compile_specs, default_scorer

words = st.text(alphabet="abcdefgh", min_size=1, max_size=6)

spec_strategy = st.one_of(
    st.just(CheckSpec("non_empty")),
    st.just(CheckSpec("json")),
    st.builds(
        lambda lo, span, tokens: CheckSpec(
            "length", {"min_chars": lo, "max_chars": lo + span, "max_tokens": tokens}
        ),
        st.integers(0, 20),
        st.integers(0, 200),
        st.integers(0, 60),
    ),
    st.builds(
        lambda j, c: CheckSpec("truncation", {"json": j, "code_blocks": c}),
        st.booleans(),
        st.booleans(),
    ),
    st.just(CheckSpec("refusal")),
    st.builds(lambda ws: CheckSpec("blocklist", {"words": ws}), st.lists(words, min_size=1)),
    st.builds(
        lambda must, must_not, ic: CheckSpec(
            "regex",
            {
                "must_match": [re.escape(w) for w in must],
                "must_not_match": [re.escape(w) for w in must_not],
                "ignore_case": ic,
            },
        ),
        st.lists(words, min_size=1, max_size=2),
        st.lists(words, max_size=2),
        st.booleans(),
    ),
    st.builds(
        lambda style, strict: CheckSpec("final_answer", {"style": style, "strict": strict}),
        st.sampled_from(["gsm8k", "boxed", "any"]),
        st.booleans(),
    ),
    st.builds(
        lambda t: CheckSpec("json_schema", {"schema": {"type": t}}),
        st.sampled_from(["object", "array", "string", "integer"]),
    ),
)

outputs = st.one_of(
    st.text(max_size=300),
    st.builds(lambda a, b: f"{a} = {b}\n#### {b}", st.integers(-99, 999), st.integers(0, 999)),
    st.sampled_from(['{"a": [1, 2', '{"a": 1}', "[]", "```py\nx\n", "I can't help with that."]),
)


def _stable(verification):
    """Everything but timings, which legitimately vary."""
    return (
        verification.verdict,
        verification.score,
        [(r.name, r.passed, r.reason) for r in verification.results],
    )


@settings(max_examples=150, deadline=None)
@given(
    specs=st.lists(spec_strategy, max_size=5),
    output=outputs,
    finish_reason=st.sampled_from(["stop", "length", ""]),
    all_results=st.booleans(),
    min_score=st.sampled_from([0.0, 0.3, 0.7]),
)
def test_verdict_deterministic_and_reject_has_reason(
    specs, output, finish_reason, all_results, min_score
) -> None:
    """Same input, same verdict (also after recompiling); a REJECT carries a failing reason."""
    kwargs = {
        "prompt": "What is 6 times 7?",
        "task_type": "math",
        "output": output,
        "finish_reason": finish_reason,
        "all_results": all_results,
        "min_score": min_score,
    }
    compiled = compile_specs(specs, scorer=default_scorer())
    first = compiled.verify(**kwargs)
    assert _stable(first) == _stable(compiled.verify(**kwargs))
    assert _stable(first) == _stable(compile_specs(specs, scorer=default_scorer()).verify(**kwargs))

    if first.verdict == "reject":
        assert any(not r.passed and r.reason for r in first.results)
    else:
        assert first.verdict == "accept"
        assert all(r.passed for r in first.results)
    assert 0.0 <= first.score <= 1.0

    deterministic = [r for r in first.results if r.name != "quality"]
    ranks = [CHECKS[r.name].cost_rank for r in deterministic]
    assert ranks == sorted(ranks), "checks must run cheapest first"
    if all_results:
        assert len(deterministic) == len(specs)
    else:
        assert all(r.passed for r in first.results[:-1])


# --- Fast paths must agree exactly with the slow, obviously-correct ones -------------

number = st.one_of(
    st.integers(0, 10**7).map(str),
    st.integers(1, 999).map(lambda n: f"{n},{n % 1000:03d}"),
    st.tuples(st.integers(0, 999), st.integers(0, 99)).map(lambda t: f"{t[0]}.{t[1]}"),
)
operator = st.sampled_from(["+", "-", "*", "/", "x", "×", "÷", "\\*", "\\-"])
space = st.sampled_from(["", " ", "  ", "\t", "\n", "\r", "$", " $"])


@given(st.lists(st.tuples(space, operator, space, number), max_size=40), number, space, space)
@settings(max_examples=400, deadline=None)
def test_arithmetic_fast_paths_match_the_parser(
    rest: list[tuple[str, str, str, str]], first: str, lead: str, trail: str
) -> None:
    from switchyard.checks.arithmetic import evaluate, parse

    expr = lead + first + "".join(a + op + b + n for a, op, b, n in rest) + trail
    assert evaluate(expr) == parse(expr) or (
        # BINARY predates the parser and also takes other whitespace ("\r") around
        # a single "a op b"; that is its documented, unchanged behaviour.
        len(rest) == 1 and "\r" in expr
    )


fragments = st.sampled_from(
    ["I'm sorry, but I can't", "i am unable to help", "as an ai, i cannot", "this goes against my",
     "sorry", "but", "a-b", "?x", "wait", "about", "roughly", "if we", "not sure", "might",
     "however", "ambiguous", "i think", "≈", "?", "x", "1", "-", ",", ".", " ", " ", "\u2019"]
)  # fmt: skip


@given(st.lists(fragments, max_size=30).map("".join))
@settings(max_examples=300, deadline=None)
def test_first_character_guards_find_what_the_plain_patterns_find(text: str) -> None:
    from switchyard.checks.content import DEFAULT_REFUSAL, REFUSAL_PHRASES
    from switchyard.checks.features import HEDGE_ALTERNATIVES, HEDGES

    lowered = text.lower()
    plain_refusal = re.compile("|".join(f"(?:{p.lower()})" for p in REFUSAL_PHRASES))
    guarded, plain = DEFAULT_REFUSAL.search(lowered), plain_refusal.search(lowered)
    assert (guarded and guarded.group(0)) == (plain and plain.group(0))
    assert HEDGES.findall(lowered) == re.findall(HEDGE_ALTERNATIVES, lowered)
    blocklist = compile_specs([CheckSpec("blocklist", {"words": ["sorry", "but", "a-b", "?x"]})])
    plain_words = re.compile(r"(?<!\w)(?:sorry|a\-b|but|\?x)(?!\w)")
    verdict = blocklist.verify(prompt="", task_type="chat", output=text, finish_reason="stop")
    assert verdict.accepted == (plain_words.search(lowered) is None)
