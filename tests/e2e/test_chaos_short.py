"""The short chaos run in `make test` (bench/chaos, profile `short`, about a minute):
the five real processes under steady load through each fault alone and then all of
them together; every check of `make chaos` must hold, with the short run's soak
threshold (docs/chaos.md says why it differs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos import report
from bench.chaos.phases import SHORT
from bench.chaos.run import SHORT_THRESHOLDS, ChaosOptions, run_chaos

PHASES = [
    "baseline",
    "soak",
    "kill-registry",
    "kill-controlplane",
    "kill-verifier",
    "model-outage",
    "bad-policy",
    "cancellations",
    "together",
]


@pytest.mark.timeout(300)
async def test_short_chaos_run_passes_every_check(tmp_path: Path) -> None:
    """No call lost, none INTERNAL/UNKNOWN, attempts within 1.2 x requests + probes,
    soak success, recovery within 2 s of each fault's end, no breaker left open, bad
    policies refused or NACKed while the last good one keeps serving."""
    outcome = await run_chaos(
        ChaosOptions(
            profile=SHORT,
            thresholds=SHORT_THRESHOLDS,
            out_dir=tmp_path / "results",
            work_dir=tmp_path / "work",
            sample_machine_load=False,
        ),
        log=lambda _line: None,
    )
    table = report.render(outcome.result, outcome.summaries, outcome.checks)
    assert [s.name for s in outcome.summaries] == PHASES, table
    assert all(s.sent > 0 for s in outcome.summaries), table
    # The faults really happened: the outage degraded calls, the client cut some.
    by_name = {s.name: s for s in outcome.summaries}
    assert by_name["model-outage"].degraded > 0, table
    assert by_name["cancellations"].cut_by_client > 0, table
    assert by_name["soak"].failed_attempts > 0, table
    assert not outcome.failed, table
    assert outcome.path is not None and outcome.path.exists()
