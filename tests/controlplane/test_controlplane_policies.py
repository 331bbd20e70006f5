"""PublishPolicy, GetPolicy, ListPolicies and RollbackPolicy over real gRPC."""

from __future__ import annotations

import hashlib

import grpc
import pytest

from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.runtime.errors import field_violations
from tests.controlplane.cp_harness import EXAMPLE_POLICY, ControlPlaneUnderTest, policy_named

BROKEN_POLICY = """
name: broken
rules:
  - name: r1
    when: {task_types: [astrology]}
    strategy: {kind: cascade, stages: [{model: small}]}
"""


async def test_publish_valid_policy_stores_version_one_and_activates_it(
    cp: ControlPlaneUnderTest,
) -> None:
    """The first version ever published becomes active even without activate."""
    response = await cp.publish(EXAMPLE_POLICY, message="first")
    assert response.policy.version == 1
    assert response.active
    assert response.policy.content_hash == hashlib.sha256(EXAMPLE_POLICY.encode()).hexdigest()
    assert response.policy.author == "test"
    assert response.policy.message == "first"
    assert response.policy.create_time.seconds > 0
    got = await cp.stub.GetPolicy(pb.GetPolicyRequest(version=0))
    assert got.policy == response.policy
    assert got.active


async def test_publish_invalid_policy_lists_every_violation_and_stores_nothing(
    cp: ControlPlaneUnderTest,
) -> None:
    """An invalid document is INVALID_ARGUMENT with one field violation per problem."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await cp.publish(BROKEN_POLICY, activate=True)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = {v.field for v in field_violations(caught.value)}
    assert {"rules[0].when.task_types", "rules[0].strategy.stages", "default"} <= fields
    listed = await cp.stub.ListPolicies(pb.ListPoliciesRequest())
    assert list(listed.policies) == []
    assert listed.active_version == 0


async def test_oversized_author_is_a_field_violation_next_to_policy_problems(
    cp: ControlPlaneUnderTest,
) -> None:
    """Request fields and document problems are reported together."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await cp.stub.PublishPolicy(pb.PublishPolicyRequest(source="name: x", author="a" * 201))
    fields = {v.field for v in field_violations(caught.value)}
    assert {"author", "default"} <= fields


async def test_validate_only_stores_nothing(cp: ControlPlaneUnderTest) -> None:
    """validate_only answers with the hash but creates no version."""
    response = await cp.publish(EXAMPLE_POLICY, validate_only=True)
    assert response.policy.version == 0
    assert response.policy.content_hash
    assert not response.active
    listed = await cp.stub.ListPolicies(pb.ListPoliciesRequest())
    assert list(listed.policies) == []


async def test_republishing_identical_source_returns_the_latest_version(
    cp: ControlPlaneUnderTest,
) -> None:
    """Same content hash as the latest version: no duplicate row."""
    first = await cp.publish(EXAMPLE_POLICY)
    again = await cp.publish(EXAMPLE_POLICY)
    assert again.policy.version == first.policy.version == 1
    listed = await cp.stub.ListPolicies(pb.ListPoliciesRequest())
    assert [p.version for p in listed.policies] == [1]


async def test_publish_without_activate_keeps_the_active_version(
    cp: ControlPlaneUnderTest,
) -> None:
    """Only the first publish activates implicitly; later ones need activate."""
    await cp.publish(policy_named("one"))
    second = await cp.publish(policy_named("two"))
    assert second.policy.version == 2
    assert not second.active
    assert (await cp.stub.GetPolicy(pb.GetPolicyRequest())).policy.version == 1
    third = await cp.publish(policy_named("three"), activate=True)
    assert third.active
    assert (await cp.stub.GetPolicy(pb.GetPolicyRequest())).policy.version == 3


async def test_list_pages_newest_first(cp: ControlPlaneUnderTest) -> None:
    """page_size/page_token walk every version exactly once, newest first."""
    for i in range(5):
        await cp.publish(policy_named(f"p{i}"))
    seen: list[int] = []
    token = ""
    for _ in range(10):
        page = await cp.stub.ListPolicies(pb.ListPoliciesRequest(page_size=2, page_token=token))
        assert len(page.policies) <= 2
        assert page.active_version == 1
        seen.extend(p.version for p in page.policies)
        token = page.next_page_token
        if not token:
            break
    assert seen == [5, 4, 3, 2, 1]


async def test_list_rejects_a_forged_page_token_and_negative_size(
    cp: ControlPlaneUnderTest,
) -> None:
    """Bad paging input is INVALID_ARGUMENT naming the field."""
    for request, field in (
        (pb.ListPoliciesRequest(page_token="garbage!"), "page_token"),
        (pb.ListPoliciesRequest(page_size=-1), "page_size"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await cp.stub.ListPolicies(request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in field_violations(caught.value)] == [field]


async def test_rollback_makes_an_earlier_version_active(cp: ControlPlaneUnderTest) -> None:
    """RollbackPolicy(1) after activating 2 makes 1 active again."""
    await cp.publish(policy_named("one"))
    await cp.publish(policy_named("two"), activate=True)
    rolled = await cp.stub.RollbackPolicy(pb.RollbackPolicyRequest(version=1, author="ops"))
    assert rolled.policy.version == 1
    got = await cp.stub.GetPolicy(pb.GetPolicyRequest())
    assert got.policy.version == 1
    assert got.active
    two = await cp.stub.GetPolicy(pb.GetPolicyRequest(version=2))
    assert not two.active


async def test_rollback_and_get_of_a_missing_version_are_not_found(
    cp: ControlPlaneUnderTest,
) -> None:
    """Unknown versions are NOT_FOUND; nothing active yet is NOT_FOUND too."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await cp.stub.GetPolicy(pb.GetPolicyRequest())
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    await cp.publish(EXAMPLE_POLICY)
    for call in (
        cp.stub.RollbackPolicy(pb.RollbackPolicyRequest(version=7)),
        cp.stub.GetPolicy(pb.GetPolicyRequest(version=7)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await cp.stub.GetPolicy(pb.GetPolicyRequest())).policy.version == 1
