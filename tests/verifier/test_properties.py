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
