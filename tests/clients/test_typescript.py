"""The TypeScript client (clients/typescript), built from protos/ by `make client-ts`,
calls Route() and Plan() on the real router and gets typed errors."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from switchyard.tools.genproto import REPO_ROOT

TS_DIR = REPO_ROOT / "clients" / "typescript"

# A first build runs npm ci and the generator on a shared 2-core machine.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def example() -> str:
    """The compiled example program; `make client-ts` rebuilds it only when its inputs
    (protos, sources, lock file) changed."""
    build = subprocess.run(
        ["make", "-s", "client-ts"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return str(TS_DIR / "dist" / "example.js")


@pytest.fixture(scope="module")
def report(example: str, router_address: str) -> dict[str, Any]:
    """What the example saw, as JSON: a Route(), a Plan() and an invalid Route()."""
    done = subprocess.run(
        ["node", example, "--router", router_address, "--json"],
        cwd=TS_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_route_returns_the_answer_model_cost_and_trace(report: dict[str, Any]) -> None:
    """Route() from TypeScript: rule, strategy, policy version and an attempt trace whose
    costs add up to the total (int64 fields arrive intact as decimal strings)."""
    reply = report["route"]
    assert reply["rule"] == "short-prompt-small" and reply["strategy"] == "single"
    assert reply["policyVersion"] == "1"
    attempts = reply["attempts"]
    assert attempts and all(a["modelId"] == "small" for a in attempts)
    # Outcomes arrive as enum names. The example simulator's small fails 3 % of calls
    # with a 503, so the outcome itself is the model's luck, not the client's.
    assert all(a["outcome"].startswith("ATTEMPT_OUTCOME_") for a in attempts)
    assert all(a["outcome"] != "ATTEMPT_OUTCOME_UNSPECIFIED" for a in attempts)
    assert int(reply.get("totalCostMicros", "0")) == sum(
        int(a.get("costMicros", "0")) for a in attempts
    )
    if not reply.get("degraded"):
        assert reply["modelId"] == "small" and reply["answer"]


def test_plan_returns_the_auto_selectors_cascades(report: dict[str, Any]) -> None:
    """Plan() from TypeScript: the auto rule, its cascades with one chosen, candidates
    with their accept probability, and the chain matching the chosen cascade."""
    plan = report["plan"]
    assert plan["rule"] == "reasoning-auto" and plan["selector"] == "auto"
    chosen = [c for c in plan["cascades"] if c.get("chosen")]
    assert len(chosen) == 1
    kept = sorted((c for c in plan["candidates"] if c.get("kept")), key=lambda c: c.get("stage", 0))
    assert [c["modelId"] for c in kept] == chosen[0]["modelIds"]
    assert all(0 < c["acceptProbability"] <= 1 for c in plan["candidates"])
    assert 0 < plan["expectedQuality"] <= 1


def test_invalid_argument_is_a_typed_error_with_field_violations(report: dict[str, Any]) -> None:
    """A bad request rejects with InvalidArgumentError (a CallError subclass) carrying
    the BadRequest field violations and the ErrorInfo reason."""
    invalid = report["invalid"]
    assert invalid["raised"] and invalid["isInvalidArgument"]
    assert invalid["class"] == "InvalidArgumentError" and invalid["code"] == "INVALID_ARGUMENT"
    assert invalid["reason"] == "INVALID_ARGUMENT"
    fields = {v["field"]: v["description"] for v in invalid["fieldViolations"]}
    assert set(fields) == {"messages", "task_type", "budget_micros"}
    assert fields["budget_micros"] == "must not be negative"
