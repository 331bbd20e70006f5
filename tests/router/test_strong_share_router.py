"""`strong_share` in a real router: Route() feeds the rule's window and Plan() only reads
it, with a predictor artefact trained by `switchyard train router`'s code."""

from __future__ import annotations

from pathlib import Path

from services.simulator.testing import RunningSimulator
from switchyard.learning.artefact import write_artefact
from switchyard.learning.predictor_training import train_router_predictor
from switchyard.router.v1 import router_pb2
from tests.learning.test_predictor import EASY, HARD, synthetic_records

from .conftest import running_router


def _policy(artefact: Path) -> str:
    return f"""
name: share
max_deadline_ms: 5000
budget_micros: 100000
predictor: {{artefact: "{artefact}"}}
checks: [{{name: non_empty}}]
default:
  name: shared
  strategy: {{selector: score, models: [small, large], max_fallbacks: 0, strong_share: 0.3}}
"""


async def test_route_feeds_the_share_window_and_plan_only_reads_it(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    trained = train_router_predictor(synthetic_records(240), [])
    artefact = tmp_path / "router.zip"
    write_artefact(artefact, trained.manifest, trained.arrays)
    async with running_router(simulator, tmp_path, policy=_policy(artefact)) as router:
        windows = router.app.state.share_windows
        served = []
        for i in range(80):
            topic = (HARD if i % 2 else EASY)[i % 6]
            prompt = f"please tell me about the {topic} number {i}?"
            reply = await router.stub.Route(
                router_pb2.RouteRequest(
                    messages=[router_pb2.ChatMessage(role="user", content=prompt)]
                )
            )
            served.append(reply.model_id)
        [(key, seen)] = windows.sizes().items()
        assert key[1] == "shared" and seen == 80
        plan = await router.stub.Plan(
            router_pb2.PlanRequest(
                request=router_pb2.RouteRequest(
                    messages=[router_pb2.ChatMessage(role="user", content="the lemma?")]
                )
            )
        )
        assert windows.sizes() == {key: 80}  # Plan() read the window, fed nothing
        large = next(c for c in plan.candidates if c.model_id == "large")
        assert large.reason.startswith("strong_share 0.3: predicted gain")
    # Half the prompts are hard (large gains there), so once warm the share holds:
    # of the 60 routes after the first 20, about 30 % went to large.
    assert 10 <= served[20:].count("large") <= 26, served
