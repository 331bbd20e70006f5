"""`switchyard models ...` against a real registry, and apply_fleet's etag safety."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import field_mask_pb2

from switchyard.cli import models as models_cli
from switchyard.fleet import apply_fleet, load_fleet
from switchyard.registry.v1 import registry_pb2
from tests.registry.conftest import Registry

REPO = Path(__file__).resolve().parents[2]
FLEET = REPO / "examples" / "fleet.yaml"


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="switchyard")
    models_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


async def run_cli(registry: Registry, *argv: str) -> int:
    """Run the CLI in a thread (it owns its event loop) against the test's registry."""
    return await asyncio.to_thread(_cli, "models", "--registry", registry.address, *argv)


async def test_apply_shows_the_diff_then_converges(
    registry: Registry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """apply creates the demo fleet; a second apply changes nothing; an edit is one update."""
    assert await run_cli(registry, "apply", "-f", str(FLEET)) == 0
    out = capsys.readouterr().out
    assert "+ small" in out and "Applied 4 of 4" in out
    assert await run_cli(registry, "apply", "-f", str(FLEET)) == 0
    assert "Nothing to change" in capsys.readouterr().out

    edited = tmp_path / "fleet.yaml"
    edited.write_text(
        FLEET.read_text().replace(
            "input_per_mtok_micros: 150_000", "input_per_mtok_micros: 175_000"
        )
    )
    assert await run_cli(registry, "apply", "-f", str(edited), "--dry-run") == 0
    out = capsys.readouterr().out
    assert "~ small" in out and "pricing.input_micros_per_mtok" in out and "Dry run" in out
    assert await run_cli(registry, "apply", "-f", str(edited)) == 0
    small = await registry.stub.GetModel(registry_pb2.GetModelRequest(name="models/small"))
    assert small.model.pricing.input_micros_per_mtok == 175_000


async def test_apply_with_an_invalid_model_applies_nothing(
    registry: Registry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """One invalid profile in the file: exit 1, its violations printed, no model stored."""
    broken = tmp_path / "fleet.yaml"
    broken.write_text(FLEET.read_text().replace("context_window: 128000", "context_window: 100"))
    assert await run_cli(registry, "apply", "-f", str(broken)) == 1
    out = capsys.readouterr().out
    assert "Nothing applied" in out and "large: model.context_window" in out
    assert registry.store.revision == 0


async def test_unreadable_fleet_file_is_exit_2(
    registry: Registry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A fleet file with a typo is reported with its location and changes nothing."""
    bad = tmp_path / "fleet.yaml"
    bad.write_text("- id: x\n  provider: {kind: simulator, endpoint: http://h/v1}\n  prise: 3\n")
    assert await run_cli(registry, "apply", "-f", str(bad)) == 2
    assert "unknown keys ['prise']" in capsys.readouterr().err


async def test_list_get_health_history_delete(
    registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    """The read commands print tables; health --set reports; delete removes the model."""
    assert await run_cli(registry, "apply", "-f", str(FLEET)) == 0
    capsys.readouterr()
    assert await run_cli(registry, "list", "--filter", "capability=code") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["ID", "KIND", "HEALTH"]
    assert {line.split()[0] for line in out.splitlines()[1:]} == {"code", "large"}
    assert await run_cli(registry, "get", "small") == 0
    assert "upstream_model: small" in capsys.readouterr().out
    assert await run_cli(registry, "health", "small", "--set", "DOWN", "--reason", "probe") == 0
    assert "DOWN" in capsys.readouterr().out
    assert await run_cli(registry, "history", "small") == 0
    history = capsys.readouterr().out
    assert "health" in history and "(new profile)" in history
    assert await run_cli(registry, "delete", "code") == 0
    assert await run_cli(registry, "get", "code") == 1
    assert "NOT_FOUND" in capsys.readouterr().err


async def test_unreachable_registry_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    """A registry nobody listens on is a clear message and exit status 3."""
    code = await asyncio.to_thread(_cli, "models", "--registry", "127.0.0.1:1", "list")
    assert code == 3
    assert "cannot reach the registry" in capsys.readouterr().err


class _RacingStub:
    """Delegates to a real stub, but lets another writer edit `small` right after the
    fleet is read: the plan's etag is then stale."""

    def __init__(self, stub: Any) -> None:
        self._stub = stub

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stub, name)

    async def ListModels(self, request: Any, **kwargs: Any) -> Any:
        response = await self._stub.ListModels(request, **kwargs)
        patch = registry_pb2.Model(name="models/small", display_name="edited by someone else")
        await self._stub.UpdateModel(
            registry_pb2.UpdateModelRequest(
                model=patch, update_mask=field_mask_pb2.FieldMask(paths=["display_name"])
            )
        )
        return response


async def test_apply_does_not_overwrite_a_concurrent_edit(registry: Registry) -> None:
    """An edit landing between apply's read and write is reported as a conflict and kept."""
    fleet = load_fleet(FLEET, environ={})
    await apply_fleet(registry.stub, fleet)
    for model in fleet:
        model.pricing.input_micros_per_mtok += 1
    result = await apply_fleet(_RacingStub(registry.stub), fleet)  # type: ignore[arg-type]
    assert not result.ok
    assert list(result.conflicts) == ["small"]
    assert sorted(result.applied) == ["code", "large", "medium"]
    small = (await registry.stub.GetModel(registry_pb2.GetModelRequest(name="models/small"))).model
    assert small.display_name == "edited by someone else"
