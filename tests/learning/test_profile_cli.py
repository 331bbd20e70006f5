"""`switchyard profile` on bad input (one line naming file, line and field; exit 2;
nothing called, nothing written) and in --offline mode against a real registry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.simulator.testing import RunningSimulator, running_simulator
from switchyard.cli.main import main

from .profile_harness import (
    RegistryUnderTest,
    answer,
    fleet_entry,
    record,
    run_profile_cli,
    running_registry,
    write_jsonl,
)


@dataclass
class Setup:
    sim: RunningSimulator
    registry: RegistryUnderTest
    tmp: Path


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with (
        running_simulator({"small": {"quality": 1.0}}, seed=1) as sim,
        running_registry(tmp_path / "registry.db") as registry,
    ):
        await registry.create(fleet_entry("small", sim.base_url))
        yield Setup(sim, registry, tmp_path)


async def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The CLI in this process (its own event loop in a thread), output captured."""
    code = await asyncio.to_thread(main, ["profile", "--no-progress", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _good(record_id: str = "r1", **answer_overrides: Any) -> dict[str, Any]:
    return record(
        record_id,
        "math",
        f"Question {record_id}: what is 6 x 7?",
        {"small": {**answer("It is 42.", 1.0), **answer_overrides}},
    )


def _without(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != key}


BAD_DATASETS: dict[str, tuple[Callable[[], list[Any]], str]] = {
    "missing field": (
        lambda: [_good("r1"), _without(_good("r2"), "task_type")],
        ":2: task_type: missing",
    ),
    "ill-typed field": (
        lambda: [_good("r1", input_tokens="ten")],
        ":1: answers.small.input_tokens: must be an integer >= 0, got 'ten'",
    ),
    "label out of range": (
        lambda: [_good("r1"), _good("r2"), _good("r3", quality=1.5)],
        ":3: answers.small.quality: 1.5 outside 0..1",
    ),
    "empty dataset": (lambda: ["", "  "], ": the dataset holds no records"),
    "not JSON": (lambda: ['{"id": "r1",'], ":1: record: not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATASETS))
async def test_bad_dataset_lines_are_refused_with_file_line_and_field(
    setup: Setup, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """Each bad line is one error line `error: FILE:LINE: FIELD: ...`, exit 2, before any
    model is called or anything is written."""
    rows, expected = BAD_DATASETS[case]
    path = write_jsonl(setup.tmp / "bad.jsonl", rows())
    revisions = await setup.registry.revisions()
    code, out, err = await _main(
        capsys, "--dataset", str(path), "--models", "small", "--write",
        "--registry", setup.registry.address,
    )  # fmt: skip
    assert code == 2
    assert err.startswith(f"error: {path}{expected}") and err.count("\n") == 1
    assert out == ""
    assert setup.sim.model("small").counters["requests"] == 0
    assert await setup.registry.revisions() == revisions


BAD_MODELS = {
    "not in the registry": (
        ("--models", "small,nope"),
        "error: --models: not in the registry at {registry}: nope (it has: small)",
    ),
    "dataset model unknown": (
        ("--models", "small", "--dataset-model", "small=ghost"),
        "error: {dataset}: --dataset-model small=ghost: the dataset has no model 'ghost' "
        "(it has: small)",
    ),
    "mapping for a model not profiled": (
        ("--models", "small", "--dataset-model", "large=small"),
        "error: --dataset-model large=small: 'large' is not one of --models",
    ),
    "bad concurrency": (
        ("--models", "small", "--concurrency", "0"),
        "error: flags: concurrency must be at least 1",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_MODELS))
async def test_unknown_models_and_bad_flags_are_refused(
    setup: Setup, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """Model names that the registry or the dataset does not know are one error line
    naming them, exit 2, nothing called."""
    path = write_jsonl(setup.tmp / "d.jsonl", [_good()])
    flags, expected = BAD_MODELS[case]
    code, _, err = await _main(
        capsys, "--dataset", str(path), *flags, "--registry", setup.registry.address
    )
    assert code == 2
    assert err == expected.format(registry=setup.registry.address, dataset=path) + "\n"
    assert setup.sim.model("small").counters["requests"] == 0


async def test_offline_model_without_answers_in_the_dataset_is_refused(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """--offline needs the model's recorded answers: the file is named, and the fix."""
    path = write_jsonl(
        setup.tmp / "d.jsonl",
        [record("r1", "chat", "Hi there, how are you?", {"other": answer("Fine.", 1.0)})],
    )
    code, _, err = await _main(
        capsys, "--dataset", str(path), "--models", "small", "--offline",
        "--registry", setup.registry.address,
    )  # fmt: skip
    assert code == 2
    assert err == (
        f"error: {path}: --models: the dataset has no answers from 'small' (it has: other); "
        "name the dataset model with --dataset-model small=NAME\n"
    )


async def test_a_model_whose_api_key_is_not_set_is_refused_before_any_call(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A profile naming a credential variable that is unset: refused up front, with the
    variable's name (never a value), instead of a run of 401s."""
    monkeypatch.delenv("PROFILE_TEST_KEY", raising=False)
    await setup.registry.create(
        fleet_entry(
            "keyed", setup.sim.base_url, kind="openai_compatible", credential_env="PROFILE_TEST_KEY"
        )
    )
    path = write_jsonl(setup.tmp / "d.jsonl", [_good()])
    code, _, err = await _main(
        capsys, "--dataset", str(path), "--models", "small,keyed",
        "--registry", setup.registry.address,
    )  # fmt: skip
    assert code == 2
    assert err == (
        "error: models/keyed: provider.credential_env: $PROFILE_TEST_KEY is not set "
        "(the API key this model needs)\n"
    )
    assert setup.sim.model("small").counters["requests"] == 0


async def test_bad_input_in_a_real_process_is_one_line_without_traceback(setup: Setup) -> None:
    """The installed entry point behaves the same: exit 2, one stderr line."""
    path = write_jsonl(setup.tmp / "bad.jsonl", [_good("r1", output_tokens=-1)])
    result = await run_profile_cli(
        "--dataset", str(path), "--models", "small", "--registry", setup.registry.address
    )
    assert result.code == 2
    assert result.stderr == (
        f"error: {path}:1: answers.small.output_tokens: must be an integer >= 0, got -1\n"
    )


async def test_unreachable_registry_is_exit_3(tmp_path: Path, capsys) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [_good()])
    code, _, err = await _main(
        capsys, "--dataset", str(path), "--models", "small", "--registry", "127.0.0.1:1"
    )
    assert code == 3 and err.startswith("error: cannot reach the registry at 127.0.0.1:1")


async def test_offline_profile_writes_recorded_figures(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """--offline calls no model: quality is the labels, cost the recorded or priced
    tokens, latency the recorded latency; --write stores them with mode `offline`."""
    rows = [
        record(
            f"r{i}",
            "chat" if i < 4 else "math",
            f"Prompt number {i}",
            {"logged-small": answer(f"Answer {i}.", q, latency_ms=100.0 * (i + 1))},
        )
        for i, q in enumerate([1.0, 0.0, 1.0, 1.0, 0.5, 0.5])
    ]
    path = write_jsonl(setup.tmp / "logs.jsonl", rows)
    code, out, err = await _main(
        capsys, "--dataset", str(path), "--models", "small", "--offline",
        "--dataset-model", "small=logged-small", "--dataset-name", "team-logs",
        "--write", "-o", "json", "--registry", setup.registry.address,
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out[: out.rindex("}") + 1])
    (small,) = report["models"]
    assert report["mode"] == "offline" and small["dataset_model"] == "logged-small"
    assert small["by_task"]["chat"]["quality"] == 0.75
    assert small["by_task"]["math"]["quality"] == 0.5
    # 20 in + 30 out tokens at 0.15 / 0.60 USD per Mtok: 3 + 18 µUSD.
    assert small["overall"]["cost_micros_mean"] == 21
    assert small["overall"]["latency_ms"] == {"p50": 300.0, "p95": 600.0, "p99": 600.0}
    assert setup.sim.model("small").counters["requests"] == 0

    stored = await setup.registry.get("small")
    assert stored.quality["chat"].score == 0.75 and stored.quality["chat"].dataset == "team-logs"
    assert (stored.latency.total_p50_ms, stored.latency.total_p99_ms) == (300, 600)
    assert stored.labels["profile-mode"] == "offline"
    assert stored.labels["profile-samples"] == "6"
