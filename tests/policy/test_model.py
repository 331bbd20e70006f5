"""Rule matching (switchyard/policy/model.py): each condition on its own, at its edges,
and first-match-wins over the rule list."""

from __future__ import annotations

import pytest

from switchyard.policy import CheckRef, RequestFacts, parse_policy
from switchyard.policy.model import Conditions


def facts(
    *,
    task: str = "chat",
    tier: str = "",
    tokens: int = 100,
    metadata: dict[str, str] | None = None,
    flags: frozenset[str] = frozenset(),
) -> RequestFacts:
    return RequestFacts(
        task_type=task,
        tier=tier,
        prompt_tokens=tokens,
        metadata=metadata or {},
        feature_flags=flags,
    )


def test_no_conditions_match_anything() -> None:
    """A rule without conditions matches every request."""
    assert Conditions().matches(facts())
    assert Conditions().matches(facts(task="math", tier="pro", tokens=0, flags=frozenset({"x"})))


def test_feature_flags_must_all_be_present() -> None:
    """A rule naming feature flags matches only a request carrying every one of them."""
    when = Conditions(feature_flags=frozenset({"beta", "eu"}))
    assert when.matches(facts(flags=frozenset({"beta", "eu"})))
    assert when.matches(facts(flags=frozenset({"beta", "eu", "other"})))
    assert not when.matches(facts(flags=frozenset({"beta"})))
    assert not when.matches(facts())


def test_min_prompt_tokens_is_inclusive() -> None:
    """min_prompt_tokens N matches N tokens and more, not N - 1."""
    when = Conditions(min_prompt_tokens=128)
    assert when.matches(facts(tokens=128))
    assert when.matches(facts(tokens=10_000))
    assert not when.matches(facts(tokens=127))


def test_max_prompt_tokens_is_inclusive() -> None:
    """max_prompt_tokens N matches N tokens and fewer, not N + 1."""
    when = Conditions(max_prompt_tokens=127)
    assert when.matches(facts(tokens=127))
    assert when.matches(facts(tokens=0))
    assert not when.matches(facts(tokens=128))


def test_max_prompt_tokens_zero_matches_only_an_empty_prompt() -> None:
    """max_prompt_tokens 0 is a bound, not 'absent'."""
    when = Conditions(max_prompt_tokens=0)
    assert when.matches(facts(tokens=0))
    assert not when.matches(facts(tokens=1))


def test_task_types_and_tiers_are_sets_to_match_against() -> None:
    """task_types and tiers match any listed value and nothing else."""
    tasks = Conditions(task_types=frozenset({"math", "code_generation"}))
    assert tasks.matches(facts(task="math")) and tasks.matches(facts(task="code_generation"))
    assert not tasks.matches(facts(task="chat"))
    tiers = Conditions(tiers=frozenset({"pro", "enterprise"}))
    assert tiers.matches(facts(tier="enterprise"))
    assert not tiers.matches(facts(tier="free")) and not tiers.matches(facts(tier=""))


def test_metadata_must_match_every_pair() -> None:
    """Each metadata key must be present with exactly that value; extra keys are fine."""
    when = Conditions(metadata={"region": "eu", "plan": "gold"})
    assert when.matches(facts(metadata={"region": "eu", "plan": "gold", "x": "y"}))
    assert not when.matches(facts(metadata={"region": "eu"}))
    assert not when.matches(facts(metadata={"region": "us", "plan": "gold"}))


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        ({}, True),
        ({"task": "chat"}, False),
        ({"tier": "free"}, False),
        ({"tokens": 9}, False),
        ({"tokens": 51}, False),
        ({"metadata": {"region": "us"}}, False),
        ({"flags": frozenset()}, False),
    ],
)
def test_every_condition_must_hold(changed: dict, expected: bool) -> None:
    """Conditions are ANDed: changing any one fact out of range stops the match."""
    when = Conditions(
        task_types=frozenset({"math"}),
        tiers=frozenset({"pro"}),
        min_prompt_tokens=10,
        max_prompt_tokens=50,
        metadata={"region": "eu"},
        feature_flags=frozenset({"beta"}),
    )
    base = {
        "task": "math",
        "tier": "pro",
        "tokens": 30,
        "metadata": {"region": "eu"},
        "flags": frozenset({"beta"}),
    }
    assert when.matches(facts(**{**base, **changed})) is expected


POLICY = parse_policy(
    """
name: p
rules:
  - name: flagged
    when: {feature_flags: [beta]}
    strategy: {kind: single, model: a}
  - name: long
    when: {min_prompt_tokens: 1000}
    strategy: {kind: single, model: b}
  - name: also-long
    when: {min_prompt_tokens: 500}
    strategy: {kind: single, model: c}
default: {name: fallback, strategy: {kind: single, model: d}}
"""
)


def test_first_matching_rule_wins() -> None:
    """Rules are tried in order: a request matching several takes the first."""
    assert POLICY.match(facts(tokens=2000, flags=frozenset({"beta"}))).name == "flagged"
    assert POLICY.match(facts(tokens=2000)).name == "long"
    assert POLICY.match(facts(tokens=700)).name == "also-long"


def test_no_matching_rule_takes_the_default() -> None:
    """When no rule's conditions hold, the default rule answers."""
    assert POLICY.match(facts(tokens=499)).name == "fallback"
    assert [r.name for r in POLICY.all_rules] == ["flagged", "long", "also-long", "fallback"]


def test_check_refs_are_equal_and_hash_alike_by_content() -> None:
    """Two CheckRefs with the same name and parameters are one cache key."""
    a = CheckRef("length", {"min_chars": 20, "max_chars": 90})
    b = CheckRef("length", {"max_chars": 90, "min_chars": 20})
    assert a == b and hash(a) == hash(b)
    other = CheckRef("length", {"min_chars": 21})
    assert len({a, b, other}) == 2
    assert hash(a) != hash(other) and hash(a) != hash(CheckRef("regex", {"min_chars": 20}))


def test_check_refs_hash_parameters_json_cannot_encode() -> None:
    """Parameters JSON cannot encode (a set, say) still give a stable hash, from their text."""
    ref = CheckRef("blocklist", {"words": {"darn"}})
    assert hash(ref) == hash(CheckRef("blocklist", {"words": {"darn"}}))
