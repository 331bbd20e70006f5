"""`switchyard profile --write` end to end: the real simulator in replay mode, the real
provider adapters, a real registry, and a router whose next Plan() uses the figures."""

from __future__ import annotations

import asyncio
import json
import math
import signal
from pathlib import Path

import pytest

from services.simulator.testing import running_simulator
from switchyard.router.v1 import router_pb2

from .profile_harness import (
    ADMIN_TOKEN,
    READ_TOKEN,
    fleet_entry,
    labelled_records,
    replay_of,
    router_following,
    run_profile_cli,
    running_registry,
    start_profile_cli,
    write_jsonl,
)

# Labels per task type and dataset model: small is right 2/6 on math and 5/6 on chat.
LABELS = {
    "math": {"ds-small": [1, 1, 0, 0, 0, 0], "ds-large": [1, 1, 1, 1, 1, 0]},
    "chat": {"ds-small": [1, 1, 1, 1, 1, 0], "ds-large": [1, 1, 1, 1, 1, 1]},
}
SIM_MODELS = {
    "small": {"ttft_ms": 20, "quality": 1.0, "replay": {"mine": "ds-small"}},
    "large": {"ttft_ms": 150, "quality": 1.0, "replay": {"mine": "ds-large"}},
}
CASCADE = """
name: cascade
max_deadline_ms: 5000
budget_micros: 100000
default:
  name: cascade
  strategy: {kind: cascade, stages: [{model: small}, {model: large}]}
"""
MAPPING = ("--dataset-model", "small=ds-small", "--dataset-model", "large=ds-large")


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "mine.jsonl", labelled_records(LABELS))


def _plan_request(task: str) -> router_pb2.PlanRequest:
    return router_pb2.PlanRequest(
        request=router_pb2.RouteRequest(
            messages=[router_pb2.ChatMessage(role="user", content="What is 6 times 7?")],
            task_type=task,
            max_output_tokens=100,
        )
    )


async def test_profile_writes_figures_and_the_router_plans_with_them(
    dataset: Path, tmp_path: Path
) -> None:
    """Measured quality per task (from the labels of the replayed answers), latency
    percentiles and provenance land in the registry with one update per model; a router
    following the registry plans the small->large cascade with exactly those figures."""
    replay = replay_of(dataset)  # key: the file's stem, `mine`
    async with (
        running_simulator(SIM_MODELS, seed=1, replay=replay) as sim,
        running_registry(tmp_path / "registry.db", auth=True) as registry,
    ):
        await registry.create(
            fleet_entry("small", sim.base_url, quality={"math": 0.9, "chat": 0.9}, p50_ms=5)
            + fleet_entry(
                "large",
                sim.base_url,
                kind="anthropic",  # the simulator speaks the Messages API too
                input_price=3_000_000,
                output_price=15_000_000,
                quality={"math": 0.99, "summarization": 0.7},
                p50_ms=6,
            )
        )
        async with router_following(registry, CASCADE, tmp_path / "router") as router:
            before = await router.stub.Plan(_plan_request("math"), timeout=5)
            assert [c.expected_latency_ms for c in before.candidates] == [5, 6]

            result = await run_profile_cli(
                "--dataset", str(dataset), "--models", "small,large", *MAPPING,
                "--write", "--concurrency", "4", "-o", "json",
                "--registry", registry.address, "--token", ADMIN_TOKEN,
            )  # fmt: skip
            assert result.code == 0, result.stderr
            report = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
            small, large = report["models"]
            assert small["by_task"]["math"]["quality"] == pytest.approx(2 / 6)
            assert small["by_task"]["chat"]["quality"] == pytest.approx(5 / 6)
            assert large["by_task"]["math"]["quality"] == pytest.approx(5 / 6)
            assert small["overall"]["labelled"] == 12 and large["overall"]["labelled"] == 12
            # Real token counts (the recorded 20 in / 30 out) at registry prices.
            assert small["overall"]["cost_micros_mean"] == 21
            assert large["overall"]["cost_micros_mean"] == 60 + 450
            assert "Wrote models/small, models/large" in result.stdout

            stored_small, stored_large = await registry.get("small"), await registry.get("large")
            assert stored_small.quality["math"].score == pytest.approx(0.3333)
            assert stored_small.quality["math"].dataset == "mine"
            assert stored_small.quality["math"].measure_time.seconds > 0
            assert stored_large.quality["chat"].score == 1.0
            # A task not in the dataset keeps its hand-typed figure.
            assert stored_large.quality["summarization"].score == pytest.approx(0.7)
            assert stored_small.labels["profile-dataset"] == "mine"
            assert stored_small.labels["profile-samples"] == "12"
            assert stored_small.labels["profile-samples.math"] == "6"
            assert stored_small.labels["team"] == "search"  # other labels untouched
            p50_small = stored_small.latency.total_p50_ms
            p50_large = stored_large.latency.total_p50_ms
            assert 20 <= p50_small < 150 <= p50_large
            assert p50_small == math.ceil(small["overall"]["latency_ms"]["p50"])
            assert stored_small.latency.total_p99_ms >= stored_small.latency.total_p50_ms

            async def plan_uses_new_figures() -> router_pb2.PlanResponse:
                while True:
                    plan = await router.stub.Plan(_plan_request("math"), timeout=5)
                    if plan.candidates[0].expected_latency_ms == p50_small:
                        return plan
                    await asyncio.sleep(0.05)

            math_plan = await asyncio.wait_for(plan_uses_new_figures(), 5)
            assert [c.expected_latency_ms for c in math_plan.candidates] == [p50_small, p50_large]
            # The cascade reaches large when small is not accepted: P = 1 - q(small, task).
            assert math_plan.expected_latency_ms == round(p50_small + (1 - 0.3333) * p50_large)
            chat_plan = await router.stub.Plan(_plan_request("chat"), timeout=5)
            assert chat_plan.expected_latency_ms == round(p50_small + (1 - 0.8333) * p50_large)


async def test_read_token_cannot_write_and_nothing_is_measured(
    dataset: Path, tmp_path: Path
) -> None:
    """--write with a read token: PERMISSION_DENIED naming the admin scope, before any
    model is called, and the registry is unchanged."""
    async with (
        running_simulator(SIM_MODELS, seed=1) as sim,
        running_registry(tmp_path / "registry.db", auth=True) as registry,
    ):
        await registry.create(fleet_entry("small", sim.base_url))
        revisions = await registry.revisions()
        result = await run_profile_cli(
            "--dataset", str(dataset), "--models", "small", "--write",
            "--registry", registry.address, "--token", READ_TOKEN,
        )  # fmt: skip
        assert result.code == 1
        assert "PERMISSION_DENIED" in result.stderr and "admin scope" in result.stderr
        assert "has read scope" in result.stderr and "Traceback" not in result.stderr
        assert sim.model("small").counters["requests"] == 0
        assert await registry.revisions() == revisions

        missing = await run_profile_cli(
            "--dataset", str(dataset), "--models", "small", "--write",
            "--registry", registry.address,
        )  # fmt: skip
        assert missing.code == 1 and "UNAUTHENTICATED" in missing.stderr
        assert "admin scope" in missing.stderr


async def test_a_model_that_never_answers_fails_the_run_and_nothing_is_written(
    dataset: Path, tmp_path: Path
) -> None:
    """One model unreachable: without --partial neither model is written; with --partial
    the measured one is, in one update, and the unreachable one is left alone."""
    async with (
        running_simulator(SIM_MODELS, seed=1) as sim,
        running_registry(tmp_path / "registry.db") as registry,
    ):
        await registry.create(
            fleet_entry("small", sim.base_url) + fleet_entry("gone", "http://127.0.0.1:1/v1")
        )
        before = {m: (await registry.get(m)).etag for m in ("small", "gone")}
        revisions = await registry.revisions()
        args = (
            "--dataset", str(dataset), "--models", "small,gone", "--write",
            "--registry", registry.address,
        )  # fmt: skip
        failed = await run_profile_cli(*args)
        assert failed.code == 1
        assert (
            "no answered call from gone" in failed.stderr and "nothing was written" in failed.stderr
        )
        assert "warning: models/gone answered no call (first failure: " in failed.stderr
        assert sim.model("small").counters["requests"] == 12  # small was measured ...
        assert await registry.revisions() == revisions  # ... and still not written

        partial = await run_profile_cli(*args, "--partial")
        assert partial.code == 0, partial.stderr
        assert "Skipped (no answered call): gone" in partial.stderr
        assert (await registry.get("small")).etag != before["small"]
        assert (await registry.get("gone")).etag == before["gone"]
        assert await registry.revisions() == revisions + 1


async def test_interrupted_run_writes_nothing(dataset: Path, tmp_path: Path) -> None:
    """Ctrl-C midway through the calls: exit 130 and no registry change."""
    slow = {"small": {"ttft_ms": 400, "quality": 1.0}}
    async with (
        running_simulator(slow, seed=1) as sim,
        running_registry(tmp_path / "registry.db") as registry,
    ):
        await registry.create(fleet_entry("small", sim.base_url))
        revisions = await registry.revisions()
        process = await start_profile_cli(
            "--dataset", str(dataset), "--models", "small", "--write", "--concurrency", "1",
            "--registry", registry.address,
        )  # fmt: skip
        for _ in range(300):
            if sim.model("small").counters["requests"] >= 2:
                break
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 130, stderr.decode()
        assert "nothing was written" in stderr.decode()
        assert "Traceback" not in stderr.decode()
        assert sim.model("small").counters["requests"] < 12
        assert await registry.revisions() == revisions


async def test_profile_edited_during_the_run_is_a_conflict_not_overwritten(
    dataset: Path, tmp_path: Path
) -> None:
    """Someone changes a profile while it is being measured: the update carries the etag
    read before the run, so it is refused (ABORTED) and the other edit survives."""
    slow = {"small": {"ttft_ms": 100, "quality": 1.0}}
    async with (
        running_simulator(slow, seed=1) as sim,
        running_registry(tmp_path / "registry.db") as registry,
    ):
        await registry.create(fleet_entry("small", sim.base_url))
        process = await start_profile_cli(
            "--dataset", str(dataset), "--models", "small", "--write", "--concurrency", "1",
            "--registry", registry.address,
        )  # fmt: skip
        for _ in range(300):
            if sim.model("small").counters["requests"] >= 1:
                break
            await asyncio.sleep(0.05)
        from google.protobuf import field_mask_pb2

        from switchyard.registry.v1 import registry_pb2

        await registry.stub.UpdateModel(
            registry_pb2.UpdateModelRequest(
                model=registry_pb2.Model(name="models/small", display_name="edited meanwhile"),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            )
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 1, stderr.decode()
        assert "CONFLICT models/small" in stderr.decode()
        stored = await registry.get("small")
        assert stored.display_name == "edited meanwhile"
        assert "profile-dataset" not in stored.labels
