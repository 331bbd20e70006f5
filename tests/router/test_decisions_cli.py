"""`switchyard decisions list|show|stats|export` over a log a real router wrote; the
export read back by the dataset tools' own reader."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from services.router.decision_log import build_redactor
from services.router.testing import ask
from services.simulator.faults import FaultSettings
from services.simulator.testing import RunningSimulator
from switchyard.cli.main import main
from switchyard.learning.dataset import load_dataset
from switchyard.learning.stats import dataset_stats
from switchyard.router.v1 import router_pb2
from tests.router.decision_harness import LoggedRouter, logged_router


@pytest.fixture
async def router(simulator: RunningSimulator, tmp_path: Path) -> AsyncIterator[LoggedRouter]:
    async for r in logged_router(simulator, tmp_path, capture_text=True, redact=build_redactor()):
        yield r


async def route_some(router: LoggedRouter) -> list[router_pb2.RouteResponse]:
    """Three answered routes (two labelled), one escalated, one failed."""
    first = await router.stub.Route(ask("Explain B-tree page splits in detail.", tenant="acme"))
    second = await router.stub.Route(
        ask("Summarise how WAL mode works in SQLite.", tenant="globex", task_type="summarization")
    )
    router.sim.model("small").faults = FaultSettings(error_rate=1.0, error_status=500)
    third = await router.stub.Route(ask("Explain MVCC to a new engineer.", tenant="acme"))
    router.sim.model("large").faults = FaultSettings(error_rate=1.0, error_status=500)
    with pytest.raises(grpc.aio.AioRpcError):
        await router.stub.Route(ask("Explain vacuum.", tenant="acme"))
    for reply, label in ((first, 1.0), (third, 0.0)):
        await router.stub.RecordFeedback(
            router_pb2.RecordFeedbackRequest(
                request_id=reply.request_id, label=label, source="human"
            )
        )
    assert router.app.decision_log is not None
    await router.app.decision_log.flush()
    return [first, second, third]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # the router's own log lines so far
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_export_jsonl_is_a_dataset_the_dataset_tools_read(
    router: LoggedRouter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only labelled decisions with a model answer become records; the reader validates
    them and their figures are the attempts' own."""
    first, _, third = await route_some(router)
    out = tmp_path / "labelled.jsonl"
    code, stdout, stderr = run(
        capsys, "decisions", "export", "--db", str(router.path), "--format", "jsonl",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0 and "wrote 2 labelled records" in stdout
    assert "skipped 2: no feedback label" in stderr
    records = {r.id: r for r in load_dataset(out, known_models=["small", "large"])}
    assert set(records) == {first.request_id, third.request_id}
    good, bad = records[first.request_id], records[third.request_id]
    assert good.prompt == "Explain B-tree page splits in detail." and good.tenant == "acme"
    assert good.answers["small"].quality == 1.0 and good.answers["small"].answer == first.answer
    assert good.answers["small"].cost_micros == first.attempts[-1].cost_micros
    assert good.answers["small"].output_tokens == first.attempts[-1].output_tokens
    # The escalated route's label belongs to the model that answered, with its own call.
    assert list(bad.answers) == ["large"] and bad.answers["large"].quality == 0.0
    assert bad.answers["large"].cost_micros == third.attempts[-1].cost_micros
    assert bad.metadata["label_source"] == "human" and bad.metadata["rule"] == third.rule
    assert set(dataset_stats(list(records.values())).models) == {"small", "large"}


async def test_export_csv_has_every_decision(
    router: LoggedRouter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replies = await route_some(router)
    out = tmp_path / "decisions.csv"
    code, stdout, _ = run(
        capsys, "decisions", "export", "--db", str(router.path), "--format", "csv",
        "--out", str(out), "--tenant", "acme",
    )  # fmt: skip
    assert code == 0 and "wrote 3 decisions" in stdout
    rows = list(csv.DictReader(out.open()))
    assert [r["outcome"] for r in rows] == ["failed", "answered", "answered"]
    by_id = {r["request_id"]: r for r in rows}
    assert by_id[replies[0].request_id]["label"] == "1.0"
    assert by_id[replies[2].request_id]["models"] == "small large"
    assert rows[0]["code"] == "UNAVAILABLE" and rows[0]["label"] == ""


async def test_list_filters_and_prints_newest_first(
    router: LoggedRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    replies = await route_some(router)
    code, stdout, _ = run(capsys, "decisions", "list", "--db", str(router.path))
    lines = stdout.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["TIME", "REQUEST", "TENANT"]
    assert len(lines) == 5 and "failed (UNAVAILABLE)" in lines[1]
    code, stdout, _ = run(
        capsys, "decisions", "list", "--db", str(router.path), "--outcome", "answered",
        "--model", "large", "-o", "jsonl",
    )  # fmt: skip
    [only] = [json.loads(line) for line in stdout.splitlines()]
    assert only["request_id"] == replies[2].request_id and only["labels"][0]["label"] == 0.0
    code, stdout, _ = run(
        capsys, "decisions", "list", "--db", str(router.path), "--since", "2h", "--until", "1h"
    )
    assert stdout.splitlines()[1:] == []


async def test_show_prints_one_requests_candidates_attempts_and_label(
    router: LoggedRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, escalated = await route_some(router)
    code, stdout, _ = run(
        capsys, "decisions", "show", escalated.request_id, "--db", str(router.path)
    )
    assert code == 0 and f"request {escalated.request_id}" in stdout
    assert "candidates:" in stdout and "attempts:" in stdout
    assert "server_error" in stdout and "label: 0 from human" in stdout
    assert "user: Explain MVCC to a new engineer." in stdout
    code, _, stderr = run(capsys, "decisions", "show", "nope", "--db", str(router.path))
    assert code == 1 and "no decision with request id 'nope'" in stderr


async def test_stats_per_route_report_expected_against_actual(
    router: LoggedRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    await route_some(router)
    code, stdout, _ = run(capsys, "decisions", "stats", "--db", str(router.path))
    assert code == 0
    header, row = stdout.splitlines()
    assert header.split()[:6] == ["RULE", "N", "OK", "DEGR", "FAIL", "EXP"]
    cells = row.split()
    assert cells[:5] == ["cascade", "4", "3", "0", "1"]
    # One of four escalated (the failed route never answered, so it is not counted).
    assert "25.0%" in cells and cells[-6:-4] == ["2", "0.500"]
    # Share of routes calling each model: the escalated and the failed route called
    # large; the failed one skipped small after its failures in the third (it retried
    # large instead), so three of four called small.
    assert cells[-4:] == ["small", "75%", "large", "50%"]


def test_a_missing_log_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, stderr = run(capsys, "decisions", "stats", "--db", str(tmp_path / "none.db"))
    assert code == 2 and "no decision log here" in stderr


def test_a_bad_time_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["decisions", "list", "--since", "yesterday"])
    assert usage.value.code == 2 and "expected an ISO time" in capsys.readouterr().err


async def test_label_sends_feedback_to_the_router(
    router: LoggedRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    """`decisions label` is RecordFeedback from the shell: labelled, refused with the
    field named, or NOT_FOUND, each with its exit status."""
    reply = await router.stub.Route(ask())
    address = f"127.0.0.1:{router.server.port}"

    def label(*argv: str) -> int:
        return main(["decisions", "label", *argv, "--router", address, "--token", ""])

    capsys.readouterr()
    assert await asyncio.to_thread(label, reply.request_id, "0.8", "--source", "human") == 0
    assert f"labelled {reply.request_id} 0.8 from human" in capsys.readouterr().out
    assert await asyncio.to_thread(label, reply.request_id, "1.5") == 1
    assert "label: 1.5 is outside [0, 1]" in capsys.readouterr().err
    assert await asyncio.to_thread(label, "nope", "0.5") == 1
    assert "NOT_FOUND" in capsys.readouterr().err
    [logged] = await router.decisions()
    assert [(lb.source, lb.label) for lb in logged.labels] == [("human", 0.8)]
