"""Reading the decision log: read-only, safe while the router writes (WAL).

Every query runs over the active file and the rotated ones beside it; feedback labels
are joined from all of them (a label is written to whichever file was active when it
arrived).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.router.decision_log.record import Decision, DecisionOutcome
from services.router.decision_log.store import log_files


class DecisionLogMissing(Exception):
    """No decision-log file at the path (nor rotated ones beside it)."""


@dataclass(frozen=True)
class Label:
    source: str
    label: float
    recorded_unix: float


@dataclass(frozen=True)
class DecisionFilter:
    since_unix: float | None = None
    until_unix: float | None = None
    tenant: str | None = None
    rule: str | None = None
    # The model that answered, or any model the route called or tried.
    model: str | None = None
    outcome: DecisionOutcome | None = None
    # Shadow-policy decisions instead of the routed ones.
    shadow: bool = False

    def where(self) -> tuple[str, list[Any]]:
        clauses, args = ["shadow = ?"], [int(self.shadow)]
        if self.since_unix is not None:
            clauses.append("time_unix >= ?")
            args.append(self.since_unix)
        if self.until_unix is not None:
            clauses.append("time_unix < ?")
            args.append(self.until_unix)
        for column, value in (("tenant", self.tenant), ("rule", self.rule)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if self.model is not None:
            clauses.append("instr(models, ?) > 0")
            args.append(f" {self.model} ")
        if self.outcome is not None:
            clauses.append("outcome = ?")
            args.append(self.outcome.value)
        return " AND ".join(clauses), args


@dataclass(frozen=True)
class LoggedDecision:
    """A decision with the labels given to it since."""

    decision: Decision
    labels: tuple[Label, ...] = ()

    @property
    def label(self) -> Label | None:
        """The latest label, whichever its source."""
        return max(self.labels, key=lambda label: label.recorded_unix) if self.labels else None


class DecisionReader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.files = log_files(path)
        if not self.files:
            raise DecisionLogMissing(
                f"{path}: no decision log here (is the router running with its decision "
                "log on? `make run` writes var/router/decisions.db)"
            )
        self._labels: dict[str, tuple[Label, ...]] | None = None

    def _each_file(self) -> Iterator[sqlite3.Connection]:
        for path in self.files:
            try:
                db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            except sqlite3.OperationalError:
                continue  # rotated away since the listing
            db.row_factory = sqlite3.Row
            try:
                # A file the writer has just created may not hold its tables yet.
                if _has_tables(db):
                    yield db
            finally:
                db.close()

    def labels(self) -> dict[str, tuple[Label, ...]]:
        if self._labels is None:
            found: dict[str, dict[str, Label]] = {}
            for db in self._each_file():
                for row in db.execute("SELECT * FROM feedback"):
                    label = Label(row["source"], row["label"], row["recorded_unix"])
                    by_source = found.setdefault(row["request_id"], {})
                    held = by_source.get(label.source)
                    if held is None or held.recorded_unix <= label.recorded_unix:
                        by_source[label.source] = label
            self._labels = {rid: tuple(by.values()) for rid, by in found.items()}
        return self._labels

    def decisions(
        self, where: DecisionFilter = DecisionFilter(), *, limit: int | None = None
    ) -> list[LoggedDecision]:
        """Matching decisions, newest first."""
        clause, args = where.where()
        sql = f"SELECT * FROM decisions WHERE {clause} ORDER BY time_unix DESC, id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows: list[Decision] = []
        for db in self._each_file():
            rows.extend(Decision.from_row(row) for row in db.execute(sql, args))
        rows.sort(key=lambda d: d.time_unix, reverse=True)
        if limit is not None:
            rows = rows[:limit]
        labels = self.labels()
        return [LoggedDecision(d, labels.get(d.request_id, ())) for d in rows]

    def find(self, request_id: str) -> list[LoggedDecision]:
        """The decisions with this request id, then the shadow decisions beside them."""
        found: list[Decision] = []
        for db in self._each_file():
            found.extend(
                Decision.from_row(row)
                for row in db.execute(
                    "SELECT * FROM decisions WHERE request_id = ? OR shadow_of = ?"
                    " ORDER BY shadow, time_unix",
                    (request_id, request_id),
                )
            )
        found.sort(key=lambda d: (d.shadow, d.time_unix))
        labels = self.labels()
        return [LoggedDecision(d, labels.get(d.request_id, ())) for d in found]


def _has_tables(db: sqlite3.Connection) -> bool:
    try:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError:
        return False
    return {"decisions", "feedback"} <= names
