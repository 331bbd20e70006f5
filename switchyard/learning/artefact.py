"""The quality-predictor artefact on disk: a zip of `manifest.json` and `.npy` arrays.

Nothing in it is code: the manifest is plain JSON (`unzip -p FILE manifest.json`) and
every array is read with `allow_pickle=False`, so loading an artefact cannot run
anything, and a tampered one is refused by its content hash before any of it is used.

The content hash is SHA-256 over the manifest (without the hash itself, as canonical
JSON) and every array's name, dtype, shape and bytes, in name order: it changes
whenever anything that affects a prediction or a reported figure does.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

ARTEFACT_FORMAT = "switchyard.quality_predictor/1"
MANIFEST = "manifest.json"
HASH_PREFIX = "sha256:"
# Far above any real artefact; a zip bomb is refused before it is inflated.
MAX_MEMBER_BYTES = 512 * 1024 * 1024


class ArtefactError(ValueError):
    """An artefact that cannot be used: missing, unreadable, tampered or another format."""


def _canonical(manifest: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "content_hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def content_hash(manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.sha256(_canonical(manifest))
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"\n{name}:{array.dtype.str}:{array.shape}\n".encode())
        digest.update(array.tobytes())
    return HASH_PREFIX + digest.hexdigest()


def _prefixed(digest: str) -> str:
    """Policies name a hash as bare hex; the artefact spells it `sha256:<hex>`."""
    digest = digest.strip().lower()
    return digest if digest.startswith(HASH_PREFIX) else HASH_PREFIX + digest


def write_artefact(
    path: Path | str, manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> str:
    """Write atomically and return the content hash (also stored in the manifest)."""
    for name, array in arrays.items():
        if array.dtype.hasobject:
            raise ValueError(f"array {name!r} holds Python objects; artefacts hold numbers only")
    stamped = {**manifest, "format": ARTEFACT_FORMAT}
    stamped["content_hash"] = content_hash(stamped, arrays)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(stamped, indent=2, allow_nan=False) + "\n")
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            archive.writestr(f"{name}.npy", buffer.getvalue())
    os.replace(tmp, path)
    return stamped["content_hash"]


def read_artefact(
    path: Path | str, *, expected_hash: str | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(manifest, arrays), after checking the format and the content hash."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if any(m.file_size > MAX_MEMBER_BYTES for m in members):
                raise ArtefactError(f"{path}: a member is larger than {MAX_MEMBER_BYTES} bytes")
            manifest = json.loads(archive.read(MANIFEST))
            arrays = {
                m.filename.removesuffix(".npy"): np.load(
                    io.BytesIO(archive.read(m)), allow_pickle=False
                )
                for m in members
                if m.filename.endswith(".npy")
            }
    except ArtefactError:
        raise
    except FileNotFoundError as exc:
        raise ArtefactError(f"quality predictor artefact {path} does not exist") from exc
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ArtefactError(f"cannot read quality predictor artefact {path}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != ARTEFACT_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ArtefactError(f"{path} is not a {ARTEFACT_FORMAT} artefact (format={found!r})")
    stored = manifest.get("content_hash")
    actual = content_hash(manifest, arrays)
    if stored != actual:
        raise ArtefactError(
            f"{path}: content hash mismatch (manifest says {stored}, content is {actual}); "
            "the artefact was altered or damaged: retrain or fetch it again"
        )
    if expected_hash is not None and actual != _prefixed(expected_hash):
        raise ArtefactError(f"{path}: artefact is {actual}, but {expected_hash} was expected")
    return manifest, arrays
