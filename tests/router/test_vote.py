"""`vote`: normalised ballots from the members, the majority's answer, an early stop."""

from __future__ import annotations

import time

from services.router.execution import AttemptOutcome
from services.router.fleet import FleetView
from services.router.planning import RouteInput
from services.router.providers.base import ChatTurn, Outcome
from switchyard.policy import Policy, parse_policy
from tests.router.fakes import RankingVerifier, TimedModel, profile, real_time_executor, route

FLEET = FleetView([profile(m, 100_000) for m in ("a", "b", "c")])
REQUEST = RouteInput(
    messages=(ChatTurn("user", "Sentiment of: 'great product'"),),
    task_type="classification",
    max_output_tokens=10,
    prompt_tokens=10,
)
SLOW = 5.0


def vote(extra: str = "") -> Policy:
    return parse_policy(
        f"""
name: vote
retry: {{max_retries: 0}}
degrade: {{static_answer: undecided}}
rules:
  - name: labels
    when: {{task_types: [classification, extraction]}}
    strategy: {{kind: vote, models: [a, b, c]{extra}}}
default: {{name: d, strategy: {{kind: single, model: a}}}}
"""
    )


async def test_majority_wins_over_spelling_variants() -> None:
    """`Positive.` and ` positive` are one vote; they beat `negative` 2 to 1, the answer
    is returned as one member wrote it, and the agreement is 2/3."""
    models = {
        "a": TimedModel("negative", 0.01),
        "b": TimedModel("Positive.", 0.02),
        "c": TimedModel(" positive", 0.03),
    }
    result = await route(real_time_executor(models, RankingVerifier()), vote(), FLEET, REQUEST)
    assert result.answer in ("Positive.", " positive") and result.model_id in ("b", "c")
    assert abs(result.agreement - 2 / 3) < 1e-9
    assert not result.degraded and result.escalations == 0


async def test_vote_stops_once_the_leader_cannot_be_overtaken() -> None:
    """Two fast members agree; the third cannot change a 2-0 lead, so it is cancelled
    and the request does not wait for it."""
    models = {
        "a": TimedModel("Positive", 0.01),
        "b": TimedModel("positive", 0.02),
        "c": TimedModel("negative", SLOW),
    }
    started = time.monotonic()
    result = await route(real_time_executor(models, RankingVerifier()), vote(), FLEET, REQUEST)
    assert time.monotonic() - started < SLOW / 2
    assert result.answer.casefold() == "positive" and result.agreement == 1.0
    assert models["c"].cancelled == 1
    assert [a.outcome for a in result.attempts if a.model_id == "c"] == [AttemptOutcome.CANCELLED]


async def test_split_vote_waits_for_the_deciding_ballot() -> None:
    """1-1 after two members: the third decides, however slow it is (within the deadline)."""
    models = {
        "a": TimedModel("positive", 0.01),
        "b": TimedModel("negative", 0.01),
        "c": TimedModel("negative", 0.2),
    }
    result = await route(real_time_executor(models, RankingVerifier()), vote(), FLEET, REQUEST)
    assert result.answer == "negative" and models["c"].answered == 1


async def test_rejected_and_failed_members_cast_no_ballot() -> None:
    """A rejected answer and a 5xx do not vote: the one accepted answer wins alone."""
    models = {
        "a": TimedModel("spam", 0.01),
        "b": TimedModel("", 0.01, outcome=Outcome.SERVER_ERROR),
        "c": TimedModel("positive", 0.02),
    }
    verifier = RankingVerifier(reject=frozenset({"spam"}))
    result = await route(real_time_executor(models, verifier), vote(), FLEET, REQUEST)
    assert (result.answer, result.agreement) == ("positive", 1.0)


async def test_confidence_weighting_and_tie_break_none() -> None:
    """Confidence: one 0.9 ballot beats two 0.3 ones (scores come from rank()). A 1-1-1
    split with tie_break none has no winner: the policy's static answer, degraded."""
    models = {
        "a": TimedModel("x", 0.01),
        "b": TimedModel("x", 0.01),
        "c": TimedModel("y", 0.02),
    }
    verifier = RankingVerifier({"x": 0.3, "y": 0.9})
    result = await route(
        real_time_executor(models, verifier), vote(", weighting: confidence"), FLEET, REQUEST
    )
    assert result.answer == "y" and abs(result.agreement - 0.9 / 1.5) < 1e-9
    three_ways = {"a": TimedModel("x", 0.01), "b": TimedModel("y", 0.01), "c": TimedModel("z")}
    result = await route(
        real_time_executor(three_ways, RankingVerifier()),
        vote(", tie_break: none"),
        FLEET,
        REQUEST,
    )
    assert result.degraded and result.answer == "undecided"


async def test_json_answers_vote_by_canonical_form() -> None:
    """An extraction vote compares JSON values: key order and spacing do not matter."""
    models = {
        "a": TimedModel('{"city": "Paris", "zip": "75001"}', 0.01),
        "b": TimedModel('{"zip":"75001","city":"Paris"}', 0.02),
        "c": TimedModel('{"city": "Lyon"}', SLOW),
    }
    extraction = RouteInput(
        messages=REQUEST.messages, task_type="extraction", max_output_tokens=50, prompt_tokens=10
    )
    result = await route(real_time_executor(models, RankingVerifier()), vote(), FLEET, extraction)
    assert result.model_id in ("a", "b") and result.agreement == 1.0
    assert models["c"].cancelled == 1
