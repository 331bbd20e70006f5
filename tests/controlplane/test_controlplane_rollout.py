"""Canary rollout: the pure choice function and the SetRollout RPC."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controlplane.rollout import choose_version as controlplane_choose_version
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.policy.rollout import RolloutSplit, choose_version
from switchyard.runtime.errors import field_violations
from tests.controlplane.cp_harness import ControlPlaneUnderTest, RouterClient, policy_named

keys = st.text(max_size=40)
percents = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


@given(key=keys, low=percents, high=percents)
def test_raising_the_percentage_never_moves_a_key_out_of_the_canary(
    key: str, low: float, high: float
) -> None:
    """Monotone: a key in the canary at p% is still in it at any q >= p."""
    low, high = sorted((low, high))
    at_low = choose_version(RolloutSplit(1, 2, low), key)
    at_high = choose_version(RolloutSplit(1, 2, high), key)
    assert at_low in (1, 2) and at_high in (1, 2)
    if at_low == 2:
        assert at_high == 2


@given(key=keys, percent=percents)
def test_the_choice_is_sticky_and_the_proto_agrees(key: str, percent: float) -> None:
    """Same key, same rollout: same version, from the dataclass or the Rollout proto."""
    split = RolloutSplit(3, 5, percent)
    proto = pb.Rollout(active_version=3, canary_version=5, canary_percent=percent)
    assert choose_version(split, key) == choose_version(split, key) == choose_version(proto, key)
    assert controlplane_choose_version is choose_version


@given(key=keys)
def test_no_canary_zero_percent_and_full_percent(key: str) -> None:
    """Edges: no canary or 0 % → active; 100 % → canary; canary equal to active → active."""
    assert choose_version(RolloutSplit(4), key) == 4
    assert choose_version(RolloutSplit(4, 7, 0.0), key) == 4
    assert choose_version(RolloutSplit(4, 7, 100.0), key) == 7
    assert choose_version(RolloutSplit(4, 4, 50.0), key) == 4


def test_the_canary_share_matches_the_percentage() -> None:
    """Over 20 000 distinct keys a 10 % canary gets 10 % ± 1 %."""
    split = RolloutSplit(1, 2, 10.0)
    share = sum(choose_version(split, f"tenant-{i}") == 2 for i in range(20_000)) / 20_000
    assert 0.09 <= share <= 0.11


async def test_set_rollout_pushes_both_policies_to_routers(cp: ControlPlaneUnderTest) -> None:
    """A canary adds its PolicyVersion and the split to the next snapshot."""
    await cp.publish(policy_named("one"))
    await cp.publish(policy_named("two"))
    router = RouterClient(cp.stub, "router-a")
    await router.hello()
    first = await router.next_snapshot()
    response = await cp.stub.SetRollout(
        pb.SetRolloutRequest(canary_version=2, canary_percent=25.0, author="ops")
    )
    assert response.rollout == pb.Rollout(active_version=1, canary_version=2, canary_percent=25.0)
    snapshot = await router.next_snapshot()
    assert int(snapshot.version) > int(first.version)
    assert [p.version for p in snapshot.policies] == [1, 2]
    assert snapshot.rollout == response.rollout
    cleared = await cp.stub.SetRollout(pb.SetRolloutRequest(canary_version=0))
    assert cleared.rollout == pb.Rollout(active_version=1)
    snapshot = await router.next_snapshot()
    assert [p.version for p in snapshot.policies] == [1]
    router.close()


async def test_activating_the_canary_promotes_it(cp: ControlPlaneUnderTest) -> None:
    """Rolling to the canary version makes it active and removes the canary."""
    await cp.publish(policy_named("one"))
    await cp.publish(policy_named("two"))
    await cp.stub.SetRollout(pb.SetRolloutRequest(canary_version=2, canary_percent=5))
    await cp.stub.RollbackPolicy(pb.RollbackPolicyRequest(version=2))
    config = await cp.stub.GetRouterConfig(pb.GetRouterConfigRequest())
    assert config.snapshot.rollout == pb.Rollout(active_version=2)
    assert [p.version for p in config.snapshot.policies] == [2]


async def test_set_rollout_validation(cp: ControlPlaneUnderTest) -> None:
    """Bad percentages and versions name the field; a missing version is NOT_FOUND."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await cp.stub.SetRollout(pb.SetRolloutRequest(canary_version=1, canary_percent=5))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    await cp.publish(policy_named("one"))
    await cp.publish(policy_named("two"))
    cases = [
        (pb.SetRolloutRequest(canary_version=2, canary_percent=0), "canary_percent"),
        (pb.SetRolloutRequest(canary_version=2, canary_percent=101), "canary_percent"),
        (pb.SetRolloutRequest(canary_version=2, canary_percent=float("nan")), "canary_percent"),
        (pb.SetRolloutRequest(canary_version=-1), "canary_version"),
        (pb.SetRolloutRequest(canary_version=1, canary_percent=5), "canary_version"),
    ]
    for request, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await cp.stub.SetRollout(request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert [v.field for v in field_violations(caught.value)] == [field]
    config = await cp.stub.GetRouterConfig(pb.GetRouterConfigRequest())
    assert config.snapshot.rollout == pb.Rollout(active_version=1)
