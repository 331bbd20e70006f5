"""End to end: the whole suite with the simulator replaying a team's own dataset file
(`--replay custom.jsonl`): Route() returns the recorded answer and token counts, and
a prompt the file lacks is answered synthetically and counted by the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest
import pytest_asyncio
import yaml

from switchyard.learning.dataset import DatasetRecord, Message, ModelAnswer, write_dataset
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.suite import EXAMPLES, Suite, SuitePorts, SuiteSettings

REFUND = "How do I get a refund for a duplicate charge?"
RESET = "My password reset email never arrives. What should I check?"
CHEAP_REFUND = "Open Billing, pick the duplicate charge and press Refund; it takes 3-5 days."
PRICEY_REFUND = (
    "Go to Billing > History, select the duplicated charge and choose Refund. The money "
    "is back on your card within 3-5 business days."
)
CHEAP_RESET = "Check the spam folder, then make sure the address on file is the one you use."


def custom_dataset(path: Path) -> Path:
    """Two models with real token counts; `pricey` answered only the refund prompt."""
    records = [
        DatasetRecord(
            id="support-1",
            messages=(Message("user", REFUND),),
            task_type="chat",
            answers={
                "cheap": ModelAnswer(
                    quality=1.0, input_tokens=57, output_tokens=21, answer=CHEAP_REFUND
                ),
                "pricey": ModelAnswer(
                    quality=1.0, input_tokens=61, output_tokens=34, answer=PRICEY_REFUND
                ),
            },
        ),
        DatasetRecord(
            id="support-2",
            messages=(Message("user", RESET),),
            task_type="chat",
            answers={
                "cheap": ModelAnswer(
                    quality=0.0, input_tokens=19, output_tokens=17, answer=CHEAP_RESET
                )
            },
        ),
    ]
    write_dataset(path, records)
    return path


def replaying_fleet(path: Path) -> Path:
    """The example simulator fleet with small standing for `cheap` and large for `pricey`,
    and no random failures, so every answer below is the recorded one."""
    fleet = yaml.safe_load((EXAMPLES / "simulator.yaml").read_text())
    for name, stands_for in (("small", "cheap"), ("large", "pricey")):
        fleet["models"][name].update(error_rate=0, quality=1.0, replay={"custom": stands_for})
    path.write_text(yaml.safe_dump(fleet))
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def suite(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Suite]:
    state = Path(tmp_path_factory.mktemp("replay-suite"))
    dataset = custom_dataset(state / "custom.jsonl")
    settings = SuiteSettings(
        state_dir=state,
        ports=SuitePorts.ephemeral(),
        simulator_file=replaying_fleet(state / "simulator.yaml"),
        extra_env={"SWITCHYARD_SIMULATOR_REPLAY": str(dataset)},
    )
    async with Suite(settings) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def router(suite: Suite) -> AsyncIterator[router_pb2_grpc.RouterServiceStub]:
    async with grpc.aio.insecure_channel(suite.address("router")) as channel:
        yield router_pb2_grpc.RouterServiceStub(channel)


def route(text: str, **fields: object) -> router_pb2.RouteRequest:
    return router_pb2.RouteRequest(
        messages=[router_pb2.ChatMessage(role="user", content=text)], **fields
    )


async def simulator_state(suite: Suite) -> dict:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{suite.simulator_url}/admin/models") as r,
    ):
        return await r.json()


pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_route_returns_the_recorded_answer_and_tokens(router) -> None:
    """A short prompt from the file goes to small, which serves `cheap`'s recorded answer:
    Route() carries its text and the recorded input and output token counts."""
    reply = await router.Route(route(REFUND), timeout=20)
    assert (reply.model_id, reply.rule) == ("small", "short-prompt-small")
    assert reply.answer == CHEAP_REFUND
    assert (reply.input_tokens, reply.output_tokens) == (57, 21)
    reply = await router.Route(route(RESET), timeout=20)
    assert (reply.answer, reply.input_tokens, reply.output_tokens) == (CHEAP_RESET, 19, 17)


async def test_enterprise_tier_gets_the_other_dataset_model(router) -> None:
    """The large model stands for `pricey`: its recorded answer and counts come back."""
    reply = await router.Route(route(REFUND, tier="enterprise"), timeout=20)
    assert reply.model_id == "large"
    assert (reply.answer, reply.input_tokens, reply.output_tokens) == (PRICEY_REFUND, 61, 34)


async def test_unknown_prompt_is_synthetic_and_counted(router, suite: Suite) -> None:
    """A prompt the file lacks gets a synthetic answer; the simulator counts the miss."""
    before = (await simulator_state(suite))["replay"]
    reply = await router.Route(route("Which plans include single sign-on?"), timeout=20)
    assert reply.answer not in (CHEAP_REFUND, CHEAP_RESET)
    after = (await simulator_state(suite))["replay"]
    assert after["datasets"] == ["custom"]
    assert after["misses"] == before["misses"] + 1
    assert after["replayed"] == before["replayed"]
