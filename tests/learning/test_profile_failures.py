"""Failure modes counted by `switchyard profile` match what the simulator injected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from services.simulator.testing import running_simulator

from .profile_harness import (
    fleet_entry,
    labelled_records,
    run_profile_cli,
    running_registry,
    write_jsonl,
)

RECORDS = 40
SIM_MODELS = {
    "flaky": {"ttft_ms": 0, "quality": 1.0, "answer_tokens": 40},
    "slow": {"ttft_ms": 0, "quality": 1.0, "answer_tokens": 40},
}
FAULTS = {
    "error_rate": 0.15,
    "malformed_rate": 0.15,
    "truncated_rate": 0.15,
    "refusal_rate": 0.15,
    "empty_rate": 0.15,
}
# Simulator counter -> the profile's failure mode.
COUNTERS = {
    "errors": "error",
    "malformed": "malformed",
    "truncated": "truncation",
    "refusals": "refusal",
    "empty": "empty",
}


def _report(stdout: str) -> dict[str, Any]:
    return json.loads(stdout)


async def test_failure_modes_match_the_injected_faults(tmp_path: Path) -> None:
    """Faults injected through the simulator's admin API (errors, malformed bodies,
    truncations, refusals, empty answers) are each counted under their own mode, exactly
    as often as the simulator produced them; calls slower than --timeout-s are timeouts;
    every failed answer scores 0 and every clean one 1 (verifier, no labels)."""
    labels = {
        "chat": {"nobody": [1.0] * (RECORDS // 2)},
        "math": {"nobody": [1.0] * (RECORDS // 2)},
    }
    dataset = write_jsonl(tmp_path / "faults.jsonl", labelled_records(labels))
    async with (
        running_simulator(SIM_MODELS, seed=7) as sim,
        running_registry(tmp_path / "registry.db") as registry,
    ):
        await registry.create(
            fleet_entry("flaky", sim.base_url) + fleet_entry("slow", sim.base_url)
        )
        async with aiohttp.ClientSession() as http:
            for model, faults in (("flaky", FAULTS), ("slow", {"added_latency_ms": 800})):
                async with http.put(f"{sim.url}/admin/models/{model}/faults", json=faults) as reply:
                    assert reply.status == 200, await reply.text()
        result = await run_profile_cli(
            "--dataset", str(dataset), "--models", "flaky,slow", "--timeout-s", "0.3",
            "--concurrency", "16", "-o", "json", "--registry", registry.address,
        )  # fmt: skip
        assert result.code == 0, result.stderr
        flaky, slow = _report(result.stdout)["models"]

        counters = sim.model("flaky").counters
        failures = flaky["overall"]["failures"]
        assert {mode: failures[mode] for mode in COUNTERS.values()} == {
            mode: counters[counter] for counter, mode in COUNTERS.items()
        }
        assert failures["timeout"] == 0
        assert sum(failures.values()) >= 10  # the draws really produced faults
        clean = RECORDS - sum(failures.values())
        assert flaky["overall"]["quality"] == clean / RECORDS
        assert flaky["overall"]["labelled"] == 0
        # Errors and malformed bodies carry no answer, so no latency sample.
        assert flaky["overall"]["answered"] == RECORDS - failures["error"] - failures["malformed"]

        assert slow["overall"]["failures"]["timeout"] == RECORDS
        assert slow["overall"]["quality"] == 0.0 and slow["measured"] is False
        assert slow["overall"]["latency_ms"]["p50"] is None
