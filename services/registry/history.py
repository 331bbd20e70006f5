"""The `revisions` table: rows <-> ModelRevision protos.

One row per change, written in the same transaction as the change itself; the row
keeps the model as it was after the change, so history and watch resume need nothing else.
"""

from __future__ import annotations

import json
import sqlite3

from switchyard.registry.v1 import registry_pb2

Model = registry_pb2.Model
ModelRevision = registry_pb2.ModelRevision

REVISION_COLUMNS = "revision, name, kind, actor, change_time, changed_fields, snapshot"


def revision_proto(revision: int, name: str, kind: int, actor: str, now: int) -> ModelRevision:
    change = ModelRevision(revision=revision, name=name, kind=kind, actor=actor)  # type: ignore[arg-type]
    change.change_time.FromNanoseconds(now)
    return change


def revision_insert(change: ModelRevision, snapshot: Model) -> tuple[str, tuple[object, ...]]:
    return (
        "INSERT INTO revisions VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            change.revision,
            change.name,
            change.kind,
            change.actor,
            change.change_time.ToNanoseconds(),
            json.dumps(list(change.changed_fields)),
            snapshot.SerializeToString(deterministic=True),
        ),
    )


def revision_from_row(row: sqlite3.Row | tuple[object, ...]) -> ModelRevision:
    revision, name, kind, actor, change_time, changed_fields, snapshot = row
    change = ModelRevision(
        revision=int(revision),  # type: ignore[arg-type]
        name=str(name),
        kind=int(kind),  # type: ignore[arg-type]
        actor=str(actor),
        changed_fields=json.loads(str(changed_fields)),
    )
    change.change_time.FromNanoseconds(int(change_time))  # type: ignore[arg-type]
    if snapshot:
        change.model.ParseFromString(bytes(snapshot))  # type: ignore[arg-type]
    return change
