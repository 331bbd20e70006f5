"""The decision log's SQLite writes alone: CPU per decision by commit size and id order.

    python -m bench.decision_store_bench [--rows N] [--prefill N]

`DecisionFiles.write` (the writer process's only real work) in this process, on a file
already holding `--prefill` decisions, for commits of 32, 512 and 4,096 rows, with
time-ordered request ids (the router's own) and random ones (what callers may send in
`x-request-id`). A commit writes every page it touched to the WAL, and random ids touch
one `request_id` index page each, so their cost falls with the commit size; ordered ids
append. Reported: user + system CPU µs per decision (system: the WAL writes).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from services.router.decision_log.store import DecisionFiles
from services.router.testing import sample_decision
from switchyard.runtime.logging import new_request_id

COMMITS = (32, 512, 4096)


def _template() -> tuple[object, ...]:
    """A decision row with a ~700-byte detail, the size `make bench`'s single route writes."""
    return sample_decision("", pad=600).row()


def _cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_stime


def measure(commit: int, ids: Callable[[], str], *, rows: int, prefill: int) -> tuple[float, float]:
    """(CPU, system CPU) µs per decision for `rows` decisions in commits of `commit`."""
    template = _template()
    with tempfile.TemporaryDirectory(prefix="decision-store-bench-") as work:
        files = DecisionFiles(Path(work) / "decisions.db", max_bytes=256 << 20, rotations=3)
        try:
            for _ in range(prefill // 1000):
                files.write([(ids(), *template[1:]) for _ in range(1000)])
            batches = [
                [(ids(), *template[1:]) for _ in range(commit)] for _ in range(rows // commit)
            ]
            start, start_sys = _cpu()
            for batch in batches:
                files.write(batch)
            end, end_sys = _cpu()
        finally:
            files.close()
    written = commit * len(batches)
    return (end - start) / written * 1e6, (end_sys - start_sys) / written * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.decision_store_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=32_768)
    parser.add_argument("--prefill", type=int, default=100_000)
    args = parser.parse_args(argv)
    kinds: dict[str, Callable[[], str]] = {
        "time-ordered ids": new_request_id,
        "random ids": lambda: os.urandom(16).hex(),
    }
    print(f"DecisionFiles.write, {args.prefill:,} decisions already in the file:")
    for label, ids in kinds.items():
        for commit in COMMITS:
            cpu, system = measure(commit, ids, rows=args.rows, prefill=args.prefill)
            print(f"  {label:17s} {commit:5d} rows a commit: {cpu:5.1f} µs (system {system:4.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
