"""The decision log: one record per Route() — answered, degraded or failed — in an
SQLite file the router owns (docs/observability.md#decision-log).

- `record.py`: a finished `RouteTrace` as a `Decision` row (pure).
- `store.py`: the files: schema, size bound, rotation, feedback rows.
- `writer.py`: `DecisionLog`, the route observer: a bounded queue on the request path,
  batches sent to the writer process without blocking.
- `writer_process.py`: the writer, a child process of the router that owns the files.
- `failures.py`: the log's counters; failures logged once a minute.
- `query.py`: read-only queries over the files for `switchyard decisions`.
- `redaction.py`: what captured prompt and answer text goes through.

Shadow decisions (a candidate policy evaluated beside the active one) go in the same
files, flagged `shadow = 1` with `shadow_of` naming the request they shadow:

    trace = RouteTrace.start(f"{request_id}/shadow-v{version}")
    trace.request, trace.policy_version, trace.rule, trace.plan = route_in, version, rule, plan
    trace.result = result          # when the shadow policy was executed on a sample
    trace.finish()                 # or trace.finish(exc) when it failed
    decision_log.record_shadow(trace, shadow_of=request_id)

Shadow records are never given feedback and never exported as training data; `list`
hides them unless asked (`--shadow`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.router.decision_log.record import Decision, DecisionOutcome
    from services.router.decision_log.redaction import build_redactor, load_callable
    from services.router.decision_log.writer import DecisionLog, DecisionLogSettings

DECISIONS_FILE = "decisions.db"

# Imported on first use: the writer process imports this package for its store and
# must not pay for the router's modules (gRPC, execution) that the record needs.
_EXPORTS = {
    "Decision": "record",
    "DecisionOutcome": "record",
    "build_redactor": "redaction",
    "load_callable": "redaction",
    "DecisionLog": "writer",
    "DecisionLogSettings": "writer",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "DECISIONS_FILE",
    "Decision",
    "DecisionLog",
    "DecisionLogSettings",
    "DecisionOutcome",
    "build_redactor",
    "load_callable",
]
