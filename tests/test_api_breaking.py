"""`make lint`'s breaking-change check (buf breaking against protos/baseline.binpb)
fails on a breaking edit to a copy of the protos and passes on additive ones."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from switchyard.tools.genproto import PROTO_ROOT, REPO_ROOT

ROUTER_PROTO = Path("switchyard/router/v1/router.proto")


def lint_protos(protos: Path) -> subprocess.CompletedProcess[str]:
    """`make lint` with its proto checks (buf lint + buf breaking against the committed
    baseline) pointed at another copy of the protos."""
    return subprocess.run(
        ["make", "-s", "lint", f"PROTOS={protos}", f"API_BASELINE={PROTO_ROOT / 'baseline.binpb'}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def edited_copy(tmp_path: Path, edit: Callable[[str], str]) -> Path:
    copy = tmp_path / "protos"
    shutil.copytree(PROTO_ROOT, copy)
    proto = copy / ROUTER_PROTO
    before = proto.read_text()
    after = edit(before)
    assert after != before, "the edit must change the proto"
    proto.write_text(after)
    return copy


def test_make_lint_runs_the_breaking_check() -> None:
    """`make lint` includes buf breaking against the committed baseline image."""
    assert (PROTO_ROOT / "baseline.binpb").stat().st_size > 0
    dry_run = subprocess.run(
        ["make", "-n", "lint"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert "breaking protos --against protos/baseline.binpb" in dry_run.stdout


def test_the_committed_protos_pass(tmp_path: Path) -> None:
    """An unchanged copy lints clean and is compatible with the baseline."""
    shutil.copytree(PROTO_ROOT, tmp_path / "protos")
    done = lint_protos(tmp_path / "protos")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            lambda text: text.replace("string tenant = 3;", "string tenant = 17;"),
            'Previously present field "3" with name "tenant" on message "RouteRequest"',
            id="renumbered-field",
        ),
        pytest.param(
            lambda text: text.replace("  rpc Plan(PlanRequest) returns (PlanResponse);\n", ""),
            'Previously present RPC "Plan" on service "RouterService" was deleted',
            id="removed-rpc",
        ),
        pytest.param(
            lambda text: text.replace("int64 budget_micros = 8;", "int32 budget_micros = 8;"),
            'changed type from "int64" to "int32"',
            id="changed-type",
        ),
        pytest.param(
            lambda text: text.replace("string tier = 4;", "string customer_tier = 4;"),
            'changed name from "tier" to "customer_tier"',
            id="renamed-field",
        ),
    ],
)
def test_a_breaking_change_fails_lint(
    tmp_path: Path, edit: Callable[[str], str], expected: str
) -> None:
    """Each breaking edit fails the check, naming the file and what broke."""
    done = lint_protos(edited_copy(tmp_path, edit))
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert expected in output, output
    assert re.search(r"router\.proto:\d+:\d+:", output), output


def test_adding_a_field_and_an_rpc_passes(tmp_path: Path) -> None:
    """Additive changes (a new field number, a new RPC with its own messages) are allowed."""

    def add(text: str) -> str:
        text = text.replace(
            "  repeated string feature_flags = 11;\n",
            "  repeated string feature_flags = 11;\n  // A new optional field.\n"
            "  string region = 12;\n",
        )
        text = text.replace(
            "  rpc Plan(PlanRequest) returns (PlanResponse);\n",
            "  rpc Plan(PlanRequest) returns (PlanResponse);\n"
            "  // A new RPC.\n  rpc Explain(ExplainRequest) returns (ExplainResponse);\n",
        )
        return text + "\nmessage ExplainRequest {}\n\nmessage ExplainResponse {}\n"

    done = lint_protos(edited_copy(tmp_path, add))
    assert done.returncode == 0, done.stdout + done.stderr
