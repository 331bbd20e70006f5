"""Artefact upload, download and the policies that name them (real service, port 0)."""

from __future__ import annotations

import hashlib

import grpc
import pytest

from controlplane.artefact_store import CHUNK_BYTES
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from tests.controlplane.cp_harness import EXAMPLE_POLICY, ControlPlaneUnderTest, RouterClient


def _upload(content: bytes, *, sha256: str | None = None, **kw) -> pb.UploadArtefactRequest:
    return pb.UploadArtefactRequest(
        name=kw.pop("name", "p.syqp"),
        kind=kw.pop("kind", pb.ARTEFACT_KIND_PREDICTOR),
        content=content,
        sha256=hashlib.sha256(content).hexdigest() if sha256 is None else sha256,
        author="t",
    )


def _naming(digest: str) -> str:
    return EXAMPLE_POLICY.replace("name: default", "name: p2", 1) + (
        f'\npredictor:\n  artefact: "{digest}"\n'
    )


async def _download(cp: ControlPlaneUnderTest, digest: str) -> bytes:
    pieces = [c async for c in cp.stub.GetArtefact(pb.GetArtefactRequest(digest=digest))]
    assert [p.offset for p in pieces] == [i * CHUNK_BYTES for i in range(len(pieces))]
    return b"".join(p.data for p in pieces)


async def test_upload_is_content_addressed_and_downloads_whole(cp: ControlPlaneUnderTest) -> None:
    """The digest is the bytes' SHA-256; the same bytes twice are stored once; a large
    artefact comes back in ordered chunks, byte for byte."""
    content = bytes(range(256)) * (CHUNK_BYTES // 256 * 2 + 7)
    first = await cp.stub.UploadArtefact(_upload(content))
    assert first.created
    assert first.artefact.digest == "sha256:" + hashlib.sha256(content).hexdigest()
    again = await cp.stub.UploadArtefact(_upload(content, name="other"))
    assert not again.created and again.artefact.name == "p.syqp"
    assert await _download(cp, first.artefact.digest) == content
    listed = await cp.stub.ListArtefacts(pb.ListArtefactsRequest())
    assert [a.digest for a in listed.artefacts] == [first.artefact.digest]


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (_upload(b"abc", sha256="0" * 64), "sha256"),
        (_upload(b"abc", sha256="nothex"), "sha256"),
        (_upload(b""), "content"),
        (_upload(b"abc", name=""), "name"),
        (_upload(b"abc", kind=pb.ARTEFACT_KIND_UNSPECIFIED), "kind"),
    ],
)
async def test_bad_uploads_are_refused_with_field_violations(
    cp: ControlPlaneUnderTest, request_: pb.UploadArtefactRequest, field: str
) -> None:
    """A wrong hash, an empty or unnamed artefact or no kind: INVALID_ARGUMENT, nothing stored."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await cp.stub.UploadArtefact(request_)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert f"{field}:" in (err.value.details() or "")
    assert not (await cp.stub.ListArtefacts(pb.ListArtefactsRequest())).artefacts


async def test_upload_over_the_size_bound_is_refused(cp: ControlPlaneUnderTest) -> None:
    """The size bound is checked before anything is stored."""
    cp.plane.artefacts.max_bytes = 1000
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await cp.stub.UploadArtefact(_upload(b"x" * 1001))
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "over the limit of 1000" in (err.value.details() or "")
    assert (await cp.stub.UploadArtefact(_upload(b"x" * 1000))).created


async def test_unknown_digest_is_not_found(cp: ControlPlaneUnderTest) -> None:
    """GetArtefact: NOT_FOUND for a digest nobody uploaded, INVALID_ARGUMENT for junk."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _download(cp, "sha256:" + "a" * 64)
    assert err.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _download(cp, "md5:abc")
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_policy_naming_a_missing_artefact_is_refused(cp: ControlPlaneUnderTest) -> None:
    """Publishing a policy whose predictor is an artefact never uploaded stores nothing."""
    await cp.publish(EXAMPLE_POLICY, activate=True)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await cp.publish(_naming("sha256:" + "b" * 64), activate=True)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "predictor.artefact" in (err.value.details() or "")
    listed = await cp.stub.ListPolicies(pb.ListPoliciesRequest())
    assert [p.version for p in listed.policies] == [1]


async def test_snapshot_carries_the_artefacts_its_policies_name(cp: ControlPlaneUnderTest) -> None:
    """The active version's artefact rides in the snapshot; a canary without one adds none."""
    stored = (await cp.stub.UploadArtefact(_upload(b"model bytes"))).artefact
    await cp.publish(EXAMPLE_POLICY, activate=True)
    await cp.publish(_naming(stored.digest), activate=True)
    router = RouterClient(cp.stub, "r1")
    try:
        await router.hello()
        snapshot = await router.next_snapshot()
        assert [a.digest for a in snapshot.artefacts] == [stored.digest]
        assert snapshot.artefacts[0].size_bytes == len(b"model bytes")
    finally:
        router.close()
    await cp.stub.RollbackPolicy(pb.RollbackPolicyRequest(version=1))
    config = await cp.stub.GetRouterConfig(pb.GetRouterConfigRequest())
    assert not config.snapshot.artefacts


async def test_shadow_is_validated_and_carried(cp: ControlPlaneUnderTest) -> None:
    """SetShadow refuses the active version and bad shares; a good one rides in the
    snapshot with the shadow's policy; version 0 removes it."""
    await cp.publish(EXAMPLE_POLICY, activate=True)
    await cp.publish(EXAMPLE_POLICY.replace("name: default", "name: s", 1))
    for shadow, field in (
        (pb.Shadow(version=1, percent=10), "shadow.version"),
        (pb.Shadow(version=2, percent=0), "shadow.percent"),
        (pb.Shadow(version=2, percent=10, execute_percent=101), "shadow.execute_percent"),
        (pb.Shadow(version=2, percent=10, max_spend_micros_per_hour=-1), "shadow.max_spend"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await cp.stub.SetShadow(pb.SetShadowRequest(shadow=shadow))
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert field in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await cp.stub.SetShadow(pb.SetShadowRequest(shadow=pb.Shadow(version=9, percent=10)))
    assert err.value.code() is grpc.StatusCode.NOT_FOUND
    reply = await cp.stub.SetShadow(
        pb.SetShadowRequest(shadow=pb.Shadow(version=2, percent=25, execute_percent=5))
    )
    assert reply.rollout.shadow.version == 2
    config = (await cp.stub.GetRouterConfig(pb.GetRouterConfigRequest())).snapshot
    assert {p.version for p in config.policies} == {1, 2}
    assert config.rollout.shadow.percent == 25
    await cp.stub.SetShadow(pb.SetShadowRequest(shadow=pb.Shadow()))
    config = (await cp.stub.GetRouterConfig(pb.GetRouterConfigRequest())).snapshot
    assert {p.version for p in config.policies} == {1} and not config.rollout.shadow.version
