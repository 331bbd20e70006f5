"""The router's artefact cache: verified by hash when stored and before every use."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from services.router.artefact_cache import ArtefactCache
from services.router.state import RouterState
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.runtime.errors import InvalidArgument

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "policy.yaml").read_text()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_store_refuses_bytes_that_do_not_hash_to_the_digest(tmp_path: Path) -> None:
    """A download that arrived damaged is never written."""
    cache = ArtefactCache(tmp_path)
    with pytest.raises(ValueError, match="arrived with SHA-256"):
        cache.store(_digest(b"good"), b"evil")
    assert not cache.verified(_digest(b"good"))
    cache.store(_digest(b"good"), b"good")
    assert cache.verified(_digest(b"good"))


def test_a_file_damaged_on_disk_fails_verification(tmp_path: Path) -> None:
    """Verification reads the bytes each time: a tampered cached file is not used."""
    cache = ArtefactCache(tmp_path)
    cache.store(_digest(b"good"), b"good")
    cache.path(_digest(b"good")).write_bytes(b"gooD")
    assert not cache.verified(_digest(b"good"))


def test_prune_keeps_only_what_the_snapshot_names(tmp_path: Path) -> None:
    """After a snapshot is adopted, artefacts it no longer names leave the disk."""
    cache = ArtefactCache(tmp_path)
    for data in (b"a", b"b"):
        cache.store(_digest(data), data)
    cache.prune([_digest(b"b")])
    assert not cache.verified(_digest(b"a")) and cache.verified(_digest(b"b"))


def _snapshot(version: str, artefact: pb.Artefact | None) -> pb.RouterConfigSnapshot:
    source = EXAMPLE
    if artefact is not None:
        source += f'\npredictor:\n  artefact: "{artefact.digest}"\n'
    return pb.RouterConfigSnapshot(
        version=version,
        nonce="n",
        policies=[pb.PolicyVersion(version=int(version), source=source)],
        rollout=pb.Rollout(active_version=int(version)),
        artefacts=[artefact] if artefact is not None else [],
    )


def test_snapshot_whose_artefact_is_absent_is_refused_and_the_last_good_kept(
    tmp_path: Path,
) -> None:
    """apply_snapshot raises (the router NACKs) and the previous policy stays in force."""
    state = RouterState(str(tmp_path))
    state.apply_snapshot(_snapshot("1", None))
    missing = pb.Artefact(digest=_digest(b"never fetched"), name="p.syqp")
    with pytest.raises(InvalidArgument) as err:
        state.apply_snapshot(_snapshot("2", missing))
    assert err.value.violations[0].field == "artefacts[0]"
    assert state.policies.active.version == 1 and state.snapshot_version == "1"
