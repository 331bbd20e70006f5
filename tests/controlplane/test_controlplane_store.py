"""PolicyStore: migrations, persistence, atomic writes, concurrent publishers."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from controlplane.migrations import LATEST
from controlplane.model import Published, content_hash
from controlplane.plane import ControlPlane
from controlplane.store import PolicyStore
from switchyard.runtime.errors import InvalidArgument, StartupError
from tests.controlplane.cp_harness import EXAMPLE_POLICY, policy_named


async def _publish(store: PolicyStore, source: str, *, activate: bool = False) -> Published:
    return await store.publish(
        source=source, content_hash=content_hash(source), author="t", message="", activate=activate
    )


async def test_versions_and_snapshot_generation_survive_a_restart(tmp_path: Path) -> None:
    """Reopening keeps versions, the active one and the generation (monotonic snapshots)."""
    db = str(tmp_path / "cp.db")
    store = await PolicyStore.open(db)
    await _publish(store, policy_named("one"))
    await _publish(store, policy_named("two"), activate=True)
    before = await store.config_state()
    await store.close()
    store = await PolicyStore.open(db)
    after = await store.config_state()
    assert after == before
    assert after.generation == 2
    assert after.rollout.active_version == 2
    published = await _publish(store, policy_named("three"), activate=True)
    assert published.policy.version == 3
    assert published.config is not None and published.config.generation == 3
    await store.close()


async def test_the_schema_is_versioned_and_migrated_once(tmp_path: Path) -> None:
    """schema_version holds one row per migration even after several opens."""
    db = tmp_path / "cp.db"
    for _ in range(2):
        await (await PolicyStore.open(str(db))).close()
    with sqlite3.connect(db) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version")]
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert versions == list(range(1, LATEST + 1))
    assert journal == "wal"


async def test_a_database_from_a_newer_build_is_refused(tmp_path: Path) -> None:
    """A schema newer than this code knows is a StartupError, not a guess."""
    db = tmp_path / "cp.db"
    await (await PolicyStore.open(str(db))).close()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (LATEST + 1,))
    with pytest.raises(StartupError, match="newer"):
        await PolicyStore.open(str(db))


async def test_an_unopenable_path_is_a_startup_error(tmp_path: Path) -> None:
    """A database path under a regular file cannot be created."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StartupError, match="cannot open database"):
        await PolicyStore.open(str(blocker / "cp.db"))


async def test_a_failing_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If activation fails after the insert, the inserted version is rolled back too."""
    store = await PolicyStore.open(str(tmp_path / "cp.db"))

    async def broken(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "_activate", broken)
    with pytest.raises(RuntimeError):
        await _publish(store, EXAMPLE_POLICY, activate=True)
    monkeypatch.undo()
    assert not await store.has_policies()
    assert (await store.config_state()).generation == 0
    await store.close()


async def test_concurrent_publishers_get_distinct_consecutive_versions(tmp_path: Path) -> None:
    """Twenty parallel publishes of different documents make versions 1..20."""
    store = await PolicyStore.open(str(tmp_path / "cp.db"))
    results = await asyncio.gather(*(_publish(store, policy_named(f"p{i}")) for i in range(20)))
    assert sorted(r.policy.version for r in results) == list(range(1, 21))
    assert sum(r.active for r in results) == 1  # only the very first became active
    await store.close()


async def test_seed_publishes_only_into_an_empty_store(tmp_path: Path) -> None:
    """--seed-policy activates the file on first start; a restart keeps what is stored."""
    db = str(tmp_path / "cp.db")
    seed = tmp_path / "seed.yaml"
    seed.write_text(policy_named("seeded"))
    plane = await ControlPlane.open(db)
    assert await plane.seed(str(seed))
    await plane.publish(source=policy_named("later"), author="ops", message="", activate=True)
    await plane.close()
    plane = await ControlPlane.open(db)
    assert not await plane.seed(str(seed))
    record, active = await plane.get(0)
    assert record.version == 2 and active
    assert plane.distributor.current.rollout.active_version == 2
    await plane.close()


async def test_an_invalid_seed_is_a_startup_error(tmp_path: Path) -> None:
    """A broken seed file stops the start with the violations in one line."""
    seed = tmp_path / "seed.yaml"
    seed.write_text("name: x\n")
    plane = await ControlPlane.open(str(tmp_path / "cp.db"))
    with pytest.raises(StartupError, match="default"):
        await plane.seed(str(seed))
    with pytest.raises(StartupError, match="cannot read"):
        await plane.seed(str(tmp_path / "missing.yaml"))
    assert not await plane.store.has_policies()
    await plane.close()


async def test_validation_needs_no_database_write(tmp_path: Path) -> None:
    """validate_only on an invalid document raises and stores nothing."""
    plane = await ControlPlane.open(str(tmp_path / "cp.db"))
    with pytest.raises(InvalidArgument):
        await plane.publish(source="{}", author="", message="", validate_only=True)
    assert not await plane.store.has_policies()
    await plane.close()
