"""End to end: one team-trained scorer (`SuiteSettings.scorer_path`, `switchyard run
--scorer-path`) scores in the verifier service and in the router's embedded fallback
alike, so losing the verifier does not change which answers pass `min_score`."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from switchyard.checks import training
from switchyard.checks.features import FEATURE_NAMES
from switchyard.checks.scorer import LogisticModel, default_scorer, save_scorer
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.suite import Suite
from switchyard.verifier.v1 import verifier_pb2, verifier_pb2_grpc
from tests.suites import INSTANT_MODELS, suite_settings

# Every answer scores sigmoid(BIAS): a figure the packaged scorer gives no answer here.
BIAS = 2.5
POLICY = """
name: scorer-path-e2e
max_deadline_ms: 20000
retry: {max_retries: 0}
checks: [{name: non_empty}]
default:
  name: scored
  strategy: {kind: single, model: small}
  min_score: 0.5
"""

pytestmark = pytest.mark.asyncio(loop_scope="module")


def constant_scorer(path: Path) -> Path:
    general = LogisticModel("general", (), BIAS, (0.0,) * len(FEATURE_NAMES), {})
    save_scorer(training.build_scorer([general], default_model="general"), path)
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def suite(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Suite]:
    state = Path(tmp_path_factory.mktemp("scorer-path"))
    scorer = constant_scorer(state / "team-scorer.json")
    settings = suite_settings(state, simulator=INSTANT_MODELS, policy=POLICY, scorer_path=scorer)
    async with Suite(settings) as running:
        yield running


async def scored(suite: Suite) -> router_pb2.Attempt:
    async with suite.channel("router") as channel:
        response = await router_pb2_grpc.RouterServiceStub(channel).Route(
            router_pb2.RouteRequest(
                messages=[router_pb2.ChatMessage(role="user", content="Name three rivers.")]
            ),
            timeout=20,
        )
    (attempt,) = response.attempts
    assert attempt.verdict == router_pb2.ATTEMPT_VERDICT_ACCEPT
    return attempt


async def test_verifier_and_embedded_fallback_score_with_the_same_artefact(suite: Suite) -> None:
    expected = 1 / (1 + math.exp(-BIAS))
    async with suite.channel("verifier") as channel:
        listed = await verifier_pb2_grpc.VerifierServiceStub(channel).ListChecks(
            verifier_pb2.ListChecksRequest(), timeout=10
        )
    assert listed.scorer_version != default_scorer().version
    assert (await scored(suite)).verifier_score == pytest.approx(expected, abs=1e-9)
    await suite.kill_service("verifier")
    # Now the router's embedded verification answers: the same artefact, the same score.
    assert (await scored(suite)).verifier_score == pytest.approx(expected, abs=1e-9)
