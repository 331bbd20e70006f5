"""`switchyard breakers ...` against a real control plane (the CLI runs in a worker thread)."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from switchyard.cli import breakers as breakers_cli
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from tests.controlplane.cp_harness import ControlPlaneUnderTest, RouterClient, eventually
from tests.controlplane.test_controlplane_fleet import OPENED


async def _cli(cp: ControlPlaneUnderTest, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="switchyard")
    breakers_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["breakers", "--controlplane", f"127.0.0.1:{cp.server.port}", *argv])
    return await asyncio.to_thread(args.func, args)


def table(out: str) -> list[str]:
    """The table the command printed, without the service's log lines around it."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("MODEL"))
    return [line for line in lines[start:] if "[info" not in line and "[warning" not in line]


async def test_open_drain_clear_and_list_with_router_detail(
    cp: ControlPlaneUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    """open/drain/clear set the override; list shows the fleet state, who opened it,
    the override and each router's counts."""
    await cp.publish("name: p\ndefault: {name: d, strategy: {kind: single, model: small}}\n")
    router = RouterClient(cp.stub, "edge-1")
    try:
        await router.hello()
        snapshot = await router.next_snapshot()
        await router.ack(snapshot)
        await router.report(
            pb.RouterReport(router_id="edge-1", nonce=snapshot.nonce, breakers=[OPENED])
        )

        async def reported() -> bool:
            return bool((await cp.stub.ListBreakers(pb.ListBreakersRequest())).breakers)

        await eventually(reported)
        assert await _cli(cp, "drain", "large", "--reason", "upgrade") == 0
        assert "large: draining on every router" in capsys.readouterr().out
        assert await _cli(cp, "list") == 0
        lines = table(capsys.readouterr().out)
        assert lines[0].split()[:5] == ["MODEL", "FLEET", "OVERRIDE", "OPENED", "BY"]
        assert lines[1].split()[:3] == ["large", "closed", "draining"]
        assert lines[2].split()[:4] == ["small", "open", "-", "edge-1"]
        assert lines[3].split()[:3] == ["edge-1", "open", "ok"] and "failed 6" in lines[3]
        assert await _cli(cp, "open", "small") == 0
        assert "small: forced open" in capsys.readouterr().out
        assert await _cli(cp, "clear", "small") == 0
        assert "small: no override" in capsys.readouterr().out
        assert await _cli(cp, "list", "--model", "large") == 0
        assert "small" not in capsys.readouterr().out
    finally:
        router.close()


async def test_an_unknown_override_value_is_bad_usage() -> None:
    """argparse refuses a subcommand that does not exist (exit status 2)."""
    parser = argparse.ArgumentParser(prog="switchyard")
    breakers_cli.register(parser.add_subparsers(dest="command", required=True))
    with pytest.raises(SystemExit) as caught:
        parser.parse_args(["breakers", "explode", "small"])
    assert caught.value.code == 2
