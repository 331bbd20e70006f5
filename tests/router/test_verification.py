"""How the router ranks ensemble answers (services/router/verification.py): `rank` via
the verifier service's Rank RPC, and the same figures in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from services.router.verification import AnswerUnderReview, EmbeddedVerifier, RemoteVerifier
from services.verifier.servicer import VerifierServicer, register_verifier
from switchyard.checks import default_scorer
from switchyard.policy import CheckRef
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import start_server

QUESTION = "Natalia sold 48 clips in April and half as many in May. How many in all?"
ANSWERS = (
    "I think it might be roughly 70? Perhaps 72, not sure, maybe a mistake.",
    "48 + 24 = 72. #### 72",
    "",
)
CHECKS = (CheckRef("non_empty"),)


def reviews() -> list[AnswerUnderReview]:
    return [
        AnswerUnderReview(
            prompt=QUESTION,
            task_type="math",
            output=text,
            finish_reason="stop",
            checks=CHECKS,
            min_score=0.0,
        )
        for text in ANSWERS
    ]


@pytest.fixture
async def verifier_channel() -> AsyncIterator[grpc.aio.Channel]:
    running = await start_server(
        name="verifier",
        config=ServerConfig(port=0),
        register=register_verifier(VerifierServicer(scorer=default_scorer())),
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield channel
    finally:
        await channel.close()
        await running.stop(0)


async def test_embedded_rank_scores_every_answer_in_the_order_given() -> None:
    """Scores come from the quality scorer even with min_score 0 (a plain verify would
    give 1 or 0); a failed check is a rejection, whatever its score."""
    verdicts = await EmbeddedVerifier().rank(reviews(), timeout_s=1)
    assert [v.accepted for v in verdicts] == [True, True, False]
    assert 0.0 < verdicts[0].score < verdicts[1].score < 1.0
    assert "non_empty" in verdicts[2].reason
    plain = await EmbeddedVerifier().verify(reviews()[0], timeout_s=1)
    assert plain.score == 1.0


async def test_remote_rank_uses_the_rank_rpc_and_agrees_with_the_embedded_one(
    verifier_channel: grpc.aio.Channel,
) -> None:
    """Rank returns the candidates best first; the router maps them back to its order."""
    remote = RemoteVerifier(verifier_channel, EmbeddedVerifier())
    got = await remote.rank(reviews(), timeout_s=2)
    want = await EmbeddedVerifier().rank(reviews(), timeout_s=1)
    assert [v.accepted for v in got] == [v.accepted for v in want]
    assert [v.score for v in got] == pytest.approx([v.score for v in want])


async def test_remote_rank_falls_back_to_the_embedded_checks_when_unreachable() -> None:
    async with grpc.aio.insecure_channel("127.0.0.1:1") as channel:
        remote = RemoteVerifier(channel, EmbeddedVerifier())
        got = await remote.rank(reviews(), timeout_s=0.5)
    assert [v.accepted for v in got] == [True, True, False]
    assert got[0].score < got[1].score
