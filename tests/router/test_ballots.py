"""Vote counting (services/router/execution/ballots.py): normalisation rules, the tally,
and its early-stop rule checked against every way the remaining ballots could fall."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.execution import Answer
from services.router.execution.ballots import Ballot, Tally, ballot_key, canonical_json, label
from switchyard.policy import VoteSettings


@pytest.mark.parametrize(
    ("answer", "key"),
    [
        ("6 + 6 = 12 eggs.\n#### 1,200", "1200"),
        ("So the total is \\boxed{1200.0}", "1200"),
        ("She pays $1,200.", "1200"),
        ("Working: 3 * 4 = 12, then 12 / 8\n#### 1.5", "1.5"),
        ("#### -7", "-7"),
        ("The answer is \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("Step one gives 4.\nSo the answer is 10 apples", "10"),
        ("I cannot tell.", None),
    ],
)
def test_maths_answers_vote_on_their_final_number(answer: str, key: str | None) -> None:
    """The working differs between models; the final answer is what they agree on."""
    assert ballot_key(answer, json_mode=False, task_type="math") == key


def test_the_final_marker_wins_over_a_later_number_in_the_working() -> None:
    assert ballot_key("#### 12", json_mode=False, task_type="math") == "12"
    text = "Total: 5 + 7 = 12\n#### 12"
    assert ballot_key(text, json_mode=False, task_type="math") == "12"
    boxed = "\\boxed{8} (check: 2 * 4 = 8, not 9)"
    assert ballot_key(boxed, json_mode=False, task_type="math") == "8"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("positive", "positive"),
        ("  Positive.\n", "positive"),
        ('"NEGATIVE"', "negative"),
        ("`Neutral`!", "neutral"),
        ("Very   positive", "very positive"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # case-folded, not just lower-cased
    ],
)
def test_labels_are_trimmed_and_case_folded(raw: str, key: str) -> None:
    """Whitespace, surrounding quotes, trailing punctuation and case do not split a vote."""
    assert label(raw) == key
    assert ballot_key(raw, json_mode=False, task_type="classification") == key


def test_json_is_canonical_whatever_the_key_order_spacing_or_fence() -> None:
    """Sorted keys, no insignificant whitespace, a Markdown fence removed, Unicode kept."""
    a = '{"b": 1, "a": [2, {"d": "é", "c": null}]}'
    b = '```json\n{"a":[2,{"c":null,"d":"é"}],"b":1}\n```'
    assert canonical_json(a) == canonical_json(b) == '{"a":[2,{"c":null,"d":"é"}],"b":1}'
    assert ballot_key(a, json_mode=True, task_type="chat") == canonical_json(b)


def test_json_mode_answer_that_is_not_json_casts_no_ballot() -> None:
    assert ballot_key("sure, here it is: {", json_mode=True, task_type="extraction") is None
    assert ballot_key("   ", json_mode=False, task_type="classification") is None


def test_extraction_compares_json_when_it_parses_and_labels_otherwise() -> None:
    """An extraction answer that is a JSON object/array is compared as JSON; a bare value
    or prose as a label."""
    assert ballot_key('{"x": 1 }', json_mode=False, task_type="extraction") == '{"x":1}'
    assert ballot_key(" 42 ", json_mode=False, task_type="extraction") == "42"
    assert ballot_key("Paris.", json_mode=False, task_type="extraction") == "paris"


def _ballot(key: str, order: int, score: float = 1.0, weight: float = 1.0) -> Ballot:
    answer = Answer(key.upper(), f"m{order}", "stop", score, order, True)
    return Ballot(key, weight, order, answer)


def test_majority_winner_agreement_and_representative() -> None:
    """Two of three agree: agreement 2/3; the group's best-scored answer is returned."""
    tally = Tally(VoteSettings(fan_out=3))
    for b in (_ballot("x", 0, 0.4), _ballot("y", 1), _ballot("x", 2, 0.9)):
        tally.cast(b)
    result = tally.result()
    assert result is not None
    assert (result.key, result.answer.model_id) == ("x", "m2")
    assert result.agreement == pytest.approx(2 / 3)


def test_confidence_weighting_lets_one_sure_voter_beat_two_unsure_ones() -> None:
    tally = Tally(VoteSettings(fan_out=3, weighting="confidence"))
    tally.cast(_ballot("x", 0, 0.3, weight=0.3))
    tally.cast(_ballot("x", 1, 0.3, weight=0.3))
    tally.cast(_ballot("y", 2, 0.9, weight=0.9))
    result = tally.result()
    assert result is not None and result.key == "y"
    assert result.agreement == pytest.approx(0.9 / 1.5)


@pytest.mark.parametrize(("tie_break", "winner"), [("order", "y"), ("score", "x"), ("none", None)])
def test_tie_breaks(tie_break: str, winner: str | None) -> None:
    """order: the group holding the earliest-listed member; score: the higher mean
    score; none: no winner."""
    tally = Tally(VoteSettings(fan_out=2, tie_break=tie_break))  # type: ignore[arg-type]
    tally.cast(_ballot("x", 1, 0.9))
    tally.cast(_ballot("y", 0, 0.2))
    result = tally.result()
    assert (result.key if result else None) == winner


def test_min_agreement_refuses_a_weak_plurality() -> None:
    tally = Tally(VoteSettings(fan_out=3, min_agreement=0.5))
    for b in (_ballot("x", 0), _ballot("y", 1), _ballot("z", 2)):
        tally.cast(b)
    assert tally.result() is None


def test_decided_only_when_the_rest_cannot_change_the_winner() -> None:
    """3 voters: 1-0 with two to come is open; 2-0 with one to come is decided; 1-1 with
    one to come is open (it could tie or win either way)."""
    tally = Tally(VoteSettings(fan_out=3))
    tally.cast(_ballot("x", 0))
    assert not tally.decided(2)
    tally.cast(_ballot("x", 1))
    assert tally.decided(1)
    split = Tally(VoteSettings(fan_out=3))
    split.cast(_ballot("x", 0))
    split.cast(_ballot("y", 1))
    assert not split.decided(1)
    assert not Tally(VoteSettings(fan_out=3)).decided(3)


vote_settings = st.builds(
    VoteSettings,
    fan_out=st.just(5),
    weighting=st.sampled_from(["majority", "confidence"]),
    tie_break=st.sampled_from(["order", "score", "none"]),
    min_agreement=st.sampled_from([0.0, 0.4, 0.6]),
)
cast = st.tuples(st.sampled_from("xyz"), st.floats(min_value=0.0, max_value=1.0))


@settings(max_examples=300, deadline=None)
@given(settings_=vote_settings, early=st.lists(cast, max_size=5), data=st.data())
def test_a_decided_tally_keeps_its_winner_whatever_comes(settings_, early, data) -> None:
    """Whenever `decided(n)` holds, every way the next n ballots could fall (any key, new
    ones included, any weight in 0..1) leaves the winner and its existence unchanged."""
    remaining = data.draw(st.integers(min_value=0, max_value=3))
    tally = Tally(settings_)
    for i, (key, score) in enumerate(early):
        answer = Answer(key, f"m{i}", "stop", score, i, True)
        tally.cast(Ballot(key, tally.weight_of(answer), i, answer))
    if not tally.decided(remaining):
        return
    now = tally.result()
    weights = (0.0, 0.5, 1.0) if settings_.weighting == "confidence" else (1.0,)
    for keys in itertools.product("xyzw", repeat=remaining):
        for ws in itertools.product(weights, repeat=remaining):
            later = Tally(settings_)
            for i, (key, score) in enumerate(early):
                answer = Answer(key, f"m{i}", "stop", score, i, True)
                later.cast(Ballot(key, later.weight_of(answer), i, answer))
            for j, (key, w) in enumerate(zip(keys, ws, strict=True)):
                order = len(early) + j
                later.cast(Ballot(key, w, order, Answer(key, f"m{order}", "stop", w, order, True)))
            after = later.result()
            assert (after.key if after else None) == (now.key if now else None)
