"""The router's local copies: snapshots adopted or NACKed, canary split, overrides, restore."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.router.app import apply_breaker_policy
from services.router.breakers import BreakerBoard, BreakerState
from services.router.state import RouterState
from services.router.testing import POLICY, snapshot
from switchyard.controlplane.v1 import controlplane_pb2
from switchyard.registry.v1 import registry_pb2
from switchyard.runtime.errors import InvalidArgument, Unavailable

CANARY = POLICY.replace("name: integration", "name: canary")


def split_snapshot(percent: float) -> controlplane_pb2.RouterConfigSnapshot:
    return controlplane_pb2.RouterConfigSnapshot(
        version="7",
        nonce="n",
        policies=[
            controlplane_pb2.PolicyVersion(version=1, source=POLICY),
            controlplane_pb2.PolicyVersion(version=2, source=CANARY),
        ],
        rollout=controlplane_pb2.Rollout(
            active_version=1, canary_version=2, canary_percent=percent
        ),
    )


def test_no_policy_yet_is_unavailable() -> None:
    """Before the first snapshot, routing is UNAVAILABLE (retryable), not a crash."""
    with pytest.raises(Unavailable):
        RouterState(None).policies  # noqa: B018


def test_invalid_snapshot_is_nacked_and_last_good_kept() -> None:
    """A snapshot whose policy does not parse raises (→ NACK) and changes nothing."""
    state = RouterState(None)
    state.apply_snapshot(snapshot(POLICY))
    with pytest.raises(InvalidArgument) as info:
        state.apply_snapshot(snapshot("name: broken\n", version=2))
    assert info.value.violations[0].field.startswith("policies[0]")
    assert state.policies.active.version == 1


def test_snapshot_missing_its_active_version_is_nacked() -> None:
    """A rollout naming a version the snapshot does not carry is refused."""
    bad = snapshot(POLICY)
    bad.rollout.active_version = 9
    with pytest.raises(InvalidArgument):
        RouterState(None).apply_snapshot(bad)


def test_canary_split_is_sticky_and_roughly_proportional() -> None:
    """About the canary percentage of keys get the canary, and a key always gets the same."""
    state = RouterState(None)
    state.apply_snapshot(split_snapshot(20))
    picks = [state.policies.for_key(f"tenant-{i}").version for i in range(2000)]
    share = picks.count(2) / len(picks)
    assert 0.15 < share < 0.25
    assert all(state.policies.for_key(f"tenant-{i}").version == picks[i] for i in range(50))


def test_breaker_overrides_force_and_release() -> None:
    """Operator overrides in a snapshot force breakers; a later snapshot without them releases."""
    state = RouterState(None)
    board = BreakerBoard()
    state.on_policy(lambda policies: apply_breaker_policy(board, policies))
    forced = snapshot(POLICY)
    forced.breaker_overrides.add(
        model_id="small", override=controlplane_pb2.BREAKER_OVERRIDE_FORCED_OPEN
    )
    state.apply_snapshot(forced)
    assert board.get("small").state is BreakerState.FORCED_OPEN
    state.apply_snapshot(snapshot(POLICY, version=2))
    assert board.get("small").state is BreakerState.CLOSED


def test_restart_restores_policy_and_fleet_from_disk(tmp_path: Path) -> None:
    """A router restarted with the control plane and registry down serves its last good copy."""
    first = RouterState(str(tmp_path))
    first.apply_snapshot(snapshot(POLICY))
    model = registry_pb2.Model(name="models/small", context_window=100)
    first.apply_fleet_snapshot(registry_pb2.FleetSnapshot(models=[model], revision=5))
    second = RouterState(str(tmp_path))
    second.restore()
    assert second.policies.active.version == 1
    assert second.fleet.get("small") is not None and second.fleet.revision == 5


def test_corrupt_state_file_does_not_stop_the_router(tmp_path: Path) -> None:
    """Garbage in the snapshot file is logged and ignored: the router waits for the stream."""
    (tmp_path / "policy-snapshot.pb").write_bytes(b"\xff\xff not a proto")
    state = RouterState(str(tmp_path))
    state.restore()
    with pytest.raises(Unavailable):
        state.policies  # noqa: B018
