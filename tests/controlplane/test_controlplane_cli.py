"""`switchyard policy ...` against a real control plane (the CLI runs in a worker thread)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from switchyard.cli import policy as policy_cli
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from tests.controlplane.cp_harness import (
    ControlPlaneUnderTest,
    RouterClient,
    eventually,
    policy_named,
)
from tests.controlplane.test_controlplane_policies import BROKEN_POLICY


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard")
    policy_cli.register(parser.add_subparsers(dest="command", required=True))
    return parser


async def _cli(cp: ControlPlaneUnderTest, *argv: str) -> int:
    """Run one command; the sync gRPC client must not block the server's event loop."""
    args = _parser().parse_args(["policy", "--controlplane", f"127.0.0.1:{cp.server.port}", *argv])
    return await asyncio.to_thread(args.func, args)


async def test_publish_list_get_rollback_round_trip(
    cp: ControlPlaneUnderTest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """publish twice, list shows both with the active marked, rollback, get --source."""
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    one.write_text(policy_named("one"))
    two.write_text(policy_named("two"))
    assert await _cli(cp, "publish", "-f", str(one), "-m", "first") == 0
    assert "policy version 1: active" in capsys.readouterr().out
    assert await _cli(cp, "publish", "-f", str(two), "--activate", "--author", "ana") == 0
    assert "policy version 2: active" in capsys.readouterr().out
    assert await _cli(cp, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["VERSION", "ACTIVE", "CREATED"]
    assert lines[1].split()[:2] == ["2", "*"] and "ana" in lines[1]
    assert lines[2].split()[0] == "1" and "first" in lines[2]
    assert await _cli(cp, "rollback", "1") == 0
    assert "policy version 1 is active" in capsys.readouterr().out
    assert await _cli(cp, "publish", "-f", str(two)) == 0  # identical to the latest: no new row
    assert "activate with: switchyard policy activate 2" in capsys.readouterr().out
    assert await _cli(cp, "activate", "2") == 0
    assert "policy version 2 is active" in capsys.readouterr().out
    assert await _cli(cp, "rollback", "1") == 0
    capsys.readouterr()
    assert await _cli(cp, "get", "--source") == 0
    assert capsys.readouterr().out == policy_named("one")


async def test_invalid_policy_prints_each_violation(
    cp: ControlPlaneUnderTest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Validation errors are listed one per line with their field, exit status 1."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN_POLICY)
    assert await _cli(cp, "publish", "-f", str(broken), "--validate-only") == 1
    err = capsys.readouterr().err
    assert "nothing was changed" in err
    assert "  rules[0].when.task_types: unknown task type 'astrology'" in err
    assert "  default: is required" in err
    assert not await cp.plane.store.has_policies()


async def test_validate_only_and_missing_file(
    cp: ControlPlaneUnderTest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--validate-only stores nothing; an unreadable file is usage error 2."""
    good = tmp_path / "good.yaml"
    good.write_text(policy_named("one"))
    assert await _cli(cp, "publish", "-f", str(good), "--validate-only") == 0
    assert "nothing stored" in capsys.readouterr().out
    assert await _cli(cp, "publish", "-f", str(tmp_path / "nope.yaml")) == 2
    assert "cannot read" in capsys.readouterr().err
    assert not await cp.plane.store.has_policies()


async def test_not_found_and_unreachable_are_clear(
    cp: ControlPlaneUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing version says NOT_FOUND; a dead address says it cannot reach it."""
    assert await _cli(cp, "rollback", "9") == 1
    assert "NOT_FOUND: policy version 9 does not exist" in capsys.readouterr().err
    args = _parser().parse_args(["policy", "list", "--controlplane", "127.0.0.1:1"])
    assert await asyncio.to_thread(args.func, args) == 1
    assert "cannot reach the control plane at 127.0.0.1:1" in capsys.readouterr().err


async def test_canary_breaker_and_routers(
    cp: ControlPlaneUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    """canary/breaker change the rollout; routers shows what each router acked."""
    await cp.publish(policy_named("one"))
    await cp.publish(policy_named("two"))
    router = RouterClient(cp.stub, "edge-1")
    await router.hello()
    await router.ack(await router.next_snapshot())
    await eventually(_acked(cp))
    assert await _cli(cp, "canary", "2", "--percent", "10") == 0
    assert "canary 2 on 10% of keys" in capsys.readouterr().out
    assert await _cli(cp, "breaker", "large", "open", "--reason", "outage") == 0
    out = capsys.readouterr().out
    assert "large" in out and "forced open" in out and "outage" in out
    assert await _cli(cp, "routers") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "current snapshot: 3"
    row = out[2].split()
    assert row[:5] == ["edge-1", "yes", "1", "1", "-"] and row[5] == "no"
    assert await _cli(cp, "canary", "--clear") == 0
    assert "no canary" in capsys.readouterr().out
    config = await cp.stub.GetRouterConfig(pb.GetRouterConfigRequest())
    assert config.snapshot.rollout.canary_version == 0
    router.close()


def _acked(cp: ControlPlaneUnderTest) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return any(r.acked_snapshot_version for r in await cp.plane.ledger.routers())

    return check
