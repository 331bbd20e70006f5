"""SQL for artefacts, the canary guard, the shadow, promotions and router counters.

Functions over one open `Transaction`, so `PolicyStore` and `RolloutControl` compose
them into their own transactions (a guard rollback clears the canary and records why
in one commit).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from controlplane.guard import CanaryGuard, VersionCounts
from controlplane.model import ArtefactRecord, ShadowSplit
from switchyard.runtime.sqlite import Transaction

_ARTEFACT_COLUMNS = "digest, name, kind, size_bytes, author, create_time_us"


def _artefact(row: sqlite3.Row) -> ArtefactRecord:
    return ArtefactRecord(
        digest=row["digest"],
        name=row["name"],
        kind=row["kind"],
        size_bytes=row["size_bytes"],
        author=row["author"],
        create_time_us=row["create_time_us"],
    )


# --- artefacts ---------------------------------------------------------------------


async def get_artefact(db: Transaction, digest: str) -> ArtefactRecord | None:
    row = await db.one(f"SELECT {_ARTEFACT_COLUMNS} FROM artefacts WHERE digest = ?", (digest,))
    return _artefact(row) if row else None


async def artefact_content(db: Transaction, digest: str) -> bytes | None:
    row = await db.one("SELECT content FROM artefacts WHERE digest = ?", (digest,))
    return bytes(row["content"]) if row else None


async def insert_artefact(db: Transaction, record: ArtefactRecord, content: bytes) -> bool:
    """Store the bytes once; False when this digest was stored already."""
    changed = await db.execute(
        f"INSERT INTO artefacts ({_ARTEFACT_COLUMNS}, content) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (digest) DO NOTHING",
        (
            record.digest,
            record.name,
            record.kind,
            record.size_bytes,
            record.author,
            record.create_time_us,
            content,
        ),
    )
    return changed > 0


async def list_artefacts(
    db: Transaction, *, before_us: int | None, limit: int
) -> list[ArtefactRecord]:
    rows = await db.all(
        f"SELECT {_ARTEFACT_COLUMNS} FROM artefacts WHERE create_time_us < ?"
        " ORDER BY create_time_us DESC, digest LIMIT ?",
        (before_us if before_us is not None else 2**62, limit),
    )
    return [_artefact(r) for r in rows]


async def missing_artefacts(db: Transaction, digests: list[str]) -> list[str]:
    return [d for d in digests if await get_artefact(db, d) is None]


async def link_policy_artefacts(db: Transaction, version: int, digests: list[str]) -> None:
    for digest in digests:
        await db.execute(
            "INSERT OR IGNORE INTO policy_artefacts (version, digest) VALUES (?, ?)",
            (version, digest),
        )


async def artefacts_for(db: Transaction, versions: list[int]) -> tuple[ArtefactRecord, ...]:
    if not versions:
        return ()
    marks = ", ".join("?" for _ in versions)
    rows = await db.all(
        f"SELECT DISTINCT a.digest, a.name, a.kind, a.size_bytes, a.author, a.create_time_us"
        f" FROM policy_artefacts p JOIN artefacts a ON a.digest = p.digest"
        f" WHERE p.version IN ({marks}) ORDER BY a.digest",
        tuple(versions),
    )
    return tuple(_artefact(r) for r in rows)


# --- guard and shadow (columns of the one rollout row) ---------------------------------


@dataclass(frozen=True)
class RolloutExtras:
    guard: CanaryGuard | None
    canary_start_us: int
    shadow: ShadowSplit


async def read_extras(db: Transaction) -> RolloutExtras:
    row = await db.one(
        "SELECT canary_guard, canary_start_us, shadow_version, shadow_percent,"
        " shadow_execute_percent, shadow_max_spend_micros_per_hour FROM rollout"
    )
    assert row is not None, "migration 1 inserts the rollout row"
    return RolloutExtras(
        guard=CanaryGuard.from_json(row["canary_guard"]),
        canary_start_us=row["canary_start_us"],
        shadow=ShadowSplit(
            version=row["shadow_version"] or 0,
            percent=float(row["shadow_percent"]),
            execute_percent=float(row["shadow_execute_percent"]),
            max_spend_micros_per_hour=int(row["shadow_max_spend_micros_per_hour"]),
        ),
    )


async def write_guard(db: Transaction, guard: CanaryGuard | None, *, canary_start_us: int) -> None:
    await db.execute(
        "UPDATE rollout SET canary_guard = ?, canary_start_us = ?",
        (guard.to_json() if guard else "", canary_start_us),
    )


async def write_shadow(db: Transaction, shadow: ShadowSplit) -> None:
    await db.execute(
        "UPDATE rollout SET shadow_version = ?, shadow_percent = ?, shadow_execute_percent = ?,"
        " shadow_max_spend_micros_per_hour = ?",
        (
            shadow.version or None,
            shadow.percent,
            shadow.execute_percent,
            shadow.max_spend_micros_per_hour,
        ),
    )


# --- promotions ----------------------------------------------------------------------


@dataclass(frozen=True)
class PromotionRecord:
    canary_version: int
    steps: tuple[float, ...]
    next_step: int
    next_step_us: int
    step_interval_s: float
    author: str


async def read_promotion(db: Transaction) -> PromotionRecord | None:
    row = await db.one(
        "SELECT canary_version, steps, next_step, next_step_us, step_interval_s, author"
        " FROM promotions"
    )
    if row is None:
        return None
    return PromotionRecord(
        canary_version=row["canary_version"],
        steps=tuple(json.loads(row["steps"])),
        next_step=row["next_step"],
        next_step_us=row["next_step_us"],
        step_interval_s=row["step_interval_s"],
        author=row["author"],
    )


async def write_promotion(db: Transaction, promotion: PromotionRecord | None) -> None:
    await db.execute("DELETE FROM promotions")
    if promotion is not None:
        await db.execute(
            "INSERT INTO promotions (id, canary_version, steps, next_step, next_step_us,"
            " step_interval_s, author) VALUES (1, ?, ?, ?, ?, ?, ?)",
            (
                promotion.canary_version,
                json.dumps(list(promotion.steps)),
                promotion.next_step,
                promotion.next_step_us,
                promotion.step_interval_s,
                promotion.author,
            ),
        )


# --- router counters -------------------------------------------------------------------


async def write_version_counts(
    db: Transaction, router_id: str, boot_id: str, version: int, counts: VersionCounts, at: int
) -> None:
    await db.execute(
        "INSERT INTO version_counts (router_id, boot_id, policy_version, counts, update_time_us)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (router_id, boot_id, policy_version) DO UPDATE SET"
        " counts = excluded.counts, update_time_us = excluded.update_time_us",
        (router_id, boot_id, version, counts.to_json(), at),
    )


async def version_totals(
    db: Transaction, version: int, *, since_us: int = 0
) -> tuple[VersionCounts, int]:
    """The sum over router processes that reported since `since_us`, and how many routers."""
    rows = await db.all(
        "SELECT router_id, counts FROM version_counts WHERE policy_version = ?"
        " AND update_time_us >= ?",
        (version, since_us),
    )
    total = VersionCounts()
    for row in rows:
        total = total + VersionCounts.from_json(row["counts"])
    return total, len({r["router_id"] for r in rows})


async def write_shadow_counts(
    db: Transaction,
    router_id: str,
    boot_id: str,
    shadow_version: int,
    active_version: int,
    counts: dict[str, object],
    at: int,
) -> None:
    await db.execute(
        "INSERT INTO shadow_counts (router_id, boot_id, shadow_version, active_version, counts,"
        " update_time_us) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (router_id, boot_id,"
        " shadow_version, active_version) DO UPDATE SET counts = excluded.counts,"
        " update_time_us = excluded.update_time_us",
        (router_id, boot_id, shadow_version, active_version, json.dumps(counts), at),
    )


async def shadow_totals(db: Transaction, shadow_version: int, active_version: int) -> dict:
    """Every counter summed over router processes (histograms bucket by bucket)."""
    rows = await db.all(
        "SELECT counts FROM shadow_counts WHERE shadow_version = ? AND active_version = ?",
        (shadow_version, active_version),
    )
    total: dict = {}
    for row in rows:
        for key, value in json.loads(row["counts"]).items():
            if isinstance(value, list):
                have = total.get(key, [])
                width = max(len(have), len(value))
                total[key] = [
                    (have[i] if i < len(have) else 0) + (value[i] if i < len(value) else 0)
                    for i in range(width)
                ]
            else:
                total[key] = total.get(key, 0) + value
    return total


async def history(db: Transaction, *, limit: int) -> list[sqlite3.Row]:
    return await db.all(
        "SELECT generation, action, detail, author, time_us FROM rollout_history"
        " ORDER BY id DESC LIMIT ?",
        (limit,),
    )
