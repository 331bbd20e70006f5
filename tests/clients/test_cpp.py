"""The C++ client (clients/cpp), generated from protos/ with Debian's gRPC and built by
`make client-cpp`, calls Route() and Plan() on the real router and gets typed errors."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from switchyard.tools.genproto import REPO_ROOT

EXAMPLE = REPO_ROOT / "clients" / "cpp" / "build" / "switchyard_route_example"
# CI sets this: there the toolchain must install, so a failure fails instead of skipping.
REQUIRED = os.environ.get("SWITCHYARD_REQUIRE_CLIENTS") == "1"

# A first build compiles the generated code on a shared 2-core machine.
pytestmark = pytest.mark.timeout(900)


def make(target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", target], cwd=REPO_ROOT, capture_output=True, text=True, timeout=880
    )


@pytest.fixture(scope="module")
def example() -> str:
    """The example binary. Skipped only when the toolchain cannot be installed here
    (no root, no Debian package index), with the reason; CMake rebuilds only what the
    protos or sources changed."""
    toolchain = make("cpp-toolchain")
    if toolchain.returncode != 0:
        reason = (toolchain.stdout + toolchain.stderr).strip().splitlines()[-3:]
        message = "cannot install the C++ toolchain (make cpp-toolchain): " + " | ".join(reason)
        if REQUIRED:
            pytest.fail(message)
        print(message)
        pytest.skip(message)
    build = make("client-cpp")
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return str(EXAMPLE)


@pytest.fixture(scope="module")
def report(example: str, router_address: str) -> dict[str, Any]:
    """What the example saw, as JSON: a Route(), a Plan() and an invalid Route()."""
    done = subprocess.run(
        [example, "--router", router_address, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_route_returns_the_answer_model_cost_and_trace(report: dict[str, Any]) -> None:
    """Route() from C++: rule, strategy, policy version and an attempt trace whose costs
    add up to the total."""
    reply = report["route"]
    assert reply["rule"] == "short-prompt-small" and reply["strategy"] == "single"
    assert reply["policy_version"] == "1"
    attempts = reply["attempts"]
    assert attempts and all(a["model_id"] == "small" for a in attempts)
    assert attempts[0]["outcome"].startswith("ATTEMPT_OUTCOME_")
    assert int(reply.get("total_cost_micros", "0")) == sum(
        int(a.get("cost_micros", "0")) for a in attempts
    )
    if not reply.get("degraded"):
        assert reply["model_id"] == "small" and reply["answer"]


def test_plan_returns_the_auto_selectors_cascades(report: dict[str, Any]) -> None:
    """Plan() from C++: the auto rule, its cascades with one chosen, and the kept
    candidates in chain order matching the chosen cascade."""
    plan = report["plan"]
    assert plan["rule"] == "reasoning-auto" and plan["selector"] == "auto"
    chosen = [c for c in plan["cascades"] if c.get("chosen")]
    assert len(chosen) == 1
    kept = sorted((c for c in plan["candidates"] if c.get("kept")), key=lambda c: c.get("stage", 0))
    assert [c["model_id"] for c in kept] == chosen[0]["model_ids"]
    assert all(0 < c["accept_probability"] <= 1 for c in plan["candidates"])
    assert 0 < plan["expected_quality"] <= 1


def test_invalid_argument_is_a_typed_error_with_field_violations(report: dict[str, Any]) -> None:
    """A bad request throws InvalidArgumentError (caught by that type) carrying the
    BadRequest field violations and the ErrorInfo reason and domain."""
    invalid = report["invalid"]
    assert invalid["raised"] and invalid["is_invalid_argument"]
    assert invalid["code"] == "INVALID_ARGUMENT"
    assert (invalid["reason"], invalid["domain"]) == ("INVALID_ARGUMENT", "switchyard.dev")
    fields = {v["field"]: v["description"] for v in invalid["field_violations"]}
    assert set(fields) == {"messages", "task_type", "budget_micros"}
    assert fields["budget_micros"] == "must not be negative"
