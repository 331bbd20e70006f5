"""End to end: `switchyard eval --through-suite` sends a dataset's requests through the
real suite (router -> simulator replaying the same file) and finds the same decisions
as the in-process evaluation: every rule of the example policy, and cascades that
escalate when the recorded cheap answer fails the length check."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from switchyard.cli.main import main
from switchyard.learning.dataset import DatasetRecord, Message, ModelAnswer, write_dataset
from switchyard.suite import EXAMPLES, Suite, SuitePorts, SuiteSettings

MODELS = ("small", "medium", "large", "code")
GOOD = "A full answer that explains the steps and ends with the result: {i}."
SHORT = "not sure"  # under the policy's 20-character minimum: the verifier rejects it
FILLER = " Please consider every detail of the account history before answering." * 8


def dataset(path: Path) -> Path:
    """Twelve prompts the example policy routes four ways: short ones to small, code to
    the code model, the enterprise tier to large, long ones to the small→large cascade
    (where small's recorded answer is too short on every other prompt)."""
    records = []
    for i in range(12):
        kind = ("short", "code", "enterprise", "long")[i % 4]
        text = f"Question {i}: how do I rotate the API key?" + (FILLER if kind == "long" else "")
        answers = {
            m: ModelAnswer(
                quality=1.0,
                input_tokens=30 + i,
                output_tokens=15 + i,
                answer=GOOD.format(i=f"{m}-{i}"),
            )
            for m in MODELS
        }
        if kind == "long" and i % 8 == 3:
            answers["small"] = ModelAnswer(
                quality=0.0, input_tokens=30, output_tokens=3, answer=SHORT
            )
        records.append(
            DatasetRecord(
                id=f"e2e-{i:02d}",
                messages=(Message("user", text),),
                task_type="code_generation" if kind == "code" else "chat",
                tier="enterprise" if kind == "enterprise" else "",
                answers=answers,
            )
        )
    write_dataset(path, records)
    return path


def replaying_simulator(path: Path) -> Path:
    """The example simulator, every model replaying its namesake, with no failures."""
    fleet = yaml.safe_load((EXAMPLES / "simulator.yaml").read_text())
    for name in MODELS:
        fleet["models"][name].update(error_rate=0, replay={"custom": name})
    path.write_text(yaml.safe_dump(fleet))
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def suite(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Suite, Path]]:
    state = Path(tmp_path_factory.mktemp("eval-suite"))
    data = dataset(state / "custom.jsonl")
    settings = SuiteSettings(
        state_dir=state,
        ports=SuitePorts.ephemeral(),
        simulator_file=replaying_simulator(state / "simulator.yaml"),
        extra_env={"SWITCHYARD_SIMULATOR_REPLAY": str(data)},
    )
    async with Suite(settings) as running:
        yield running, data


@pytest.mark.asyncio(loop_scope="module")
async def test_through_suite_decisions_match_in_process(
    suite: tuple[Suite, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every sampled request is served by the same model after the same calls, with the
    recorded answer, live and in process; two of the cascade's requests escalate."""
    running, data = suite
    argv = [
        "eval",
        *("--dataset", str(data), "--policy", str(EXAMPLES / "policy.yaml")),
        *("--fleet", str(EXAMPLES / "fleet.yaml"), "--json", str(tmp_path / "report.json")),
        *("--through-suite", running.address("router"), "--sample", "12"),
    ]
    code = await asyncio.to_thread(main, argv)
    printed = capsys.readouterr().out
    assert "12/12 decisions match" in printed, printed
    assert code == 0
    policy = json.loads((tmp_path / "report.json").read_text())["rows"][0]
    assert policy["name"] == "policy default"
    assert policy["escalation_rate"] == pytest.approx(2 / 12)
    # 12 requests, 14 calls: 6 short or long prompts on small (2 escalate to large),
    # 3 code, 3 enterprise on large.
    assert policy["call_share"] == pytest.approx({"small": 6 / 14, "large": 5 / 14, "code": 3 / 14})


@pytest.mark.asyncio(loop_scope="module")
async def test_through_suite_reports_a_policy_the_suite_does_not_run(
    suite: tuple[Suite, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Evaluating another policy than the suite's: the mismatches are listed, exit 1."""
    running, data = suite
    other = tmp_path / "all-large.yaml"
    other.write_text(
        "name: all-large\ndefault: {name: big, strategy: {kind: single, model: large}}\n"
    )
    argv = [
        "eval",
        *("--dataset", str(data), "--policy", str(other), "--fleet", str(EXAMPLES / "fleet.yaml")),
        *("--through-suite", running.address("router"), "--sample", "4"),
    ]
    assert await asyncio.to_thread(main, argv) == 1
    printed = capsys.readouterr().out
    assert "decisions match" in printed and "4/4" not in printed
    assert "in-process large via large; live small via small" in printed
