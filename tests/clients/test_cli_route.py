"""`switchyard route` / `switchyard plan` as a newcomer runs them, against the real suite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from switchyard.cli.connection import router_token
from switchyard.cli.run import example_calls
from switchyard.client import DEFAULT_ROUTER, DEV_TENANT_TOKEN, TlsConfig
from switchyard.tools.genproto import REPO_ROOT

LONG_PROMPT = "Please consider the following planning notes carefully. " * 20 + "Summarise them."
CLI = Path(sys.executable).parent / "switchyard"


def switchyard(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *argv], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_commands_make_run_prints_work(router_address: str) -> None:
    """Each `switchyard ...` line of the banner `make run` prints runs as written (from
    the repository root, with the suite's address) and exits 0: route shows the answer
    and trace, plan the auto selector's cascades for the long prompt it reads."""
    banner = example_calls(router_address)
    lines = [line.strip() for line in banner.splitlines() if "switchyard route" in line]
    lines += [line.strip() for line in banner.splitlines() if "switchyard plan" in line]
    assert len(lines) == 2
    outputs = []
    for line in lines:
        assert line.startswith(".venv/bin/switchyard ") and f"--router {router_address}" in line
        if not (REPO_ROOT / ".venv/bin/switchyard").exists():  # tests run from another venv
            line = line.replace(".venv/bin/switchyard", str(CLI), 1)
        done = subprocess.run(
            ["bash", "-c", line], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    route_out, plan_out = outputs
    assert "route     rule " in route_out and "STAGE  RETRY  MODEL" in route_out
    assert "selector auto" in plan_out and "Cascades weighed (auto):" in plan_out
    # On the default port the banner needs no --router flag.
    assert "--router" not in example_calls(DEFAULT_ROUTER)


def test_route_json_has_the_answer_model_cost_and_trace(router_address: str) -> None:
    """--json prints the RouteResponse with every field; cost adds up over the trace."""
    done = switchyard(
        *("route", "What is a B-tree?", "--task", "chat", "--tier", "pro", "--budget", "5000"),
        *("--json", "--router", router_address),
    )
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert reply["rule"] and reply["strategy"] and reply["attempts"]
    assert int(reply["total_cost_micros"]) == sum(int(a["cost_micros"]) for a in reply["attempts"])
    assert reply["attempts"][0]["outcome"].startswith("ATTEMPT_OUTCOME_")
    if not reply["degraded"]:
        assert reply["answer"] and reply["model_id"]


def test_plan_shows_selector_cascades_and_candidate_estimates(router_address: str) -> None:
    """`switchyard plan` on a long maths prompt shows the auto selector, every cascade it
    weighed with one chosen, and each candidate's P(accept) and stage acceptance."""
    done = switchyard("plan", LONG_PROMPT, "--task", "math", "--router", router_address)
    assert done.returncode == 0, done.stderr
    assert "selector auto" in done.stdout and "Cascades weighed (auto):" in done.stdout
    assert "P(ACCEPT)" in done.stdout and "STAGE ACC." in done.stdout
    as_json = switchyard(
        "plan", LONG_PROMPT, "--task", "math", "--json", "--router", router_address
    )
    plan = json.loads(as_json.stdout)
    assert plan["selector"] == "auto" and 0 < plan["expected_quality"] <= 1
    assert sum(c["chosen"] for c in plan["cascades"]) == 1
    assert all(0 < c["accept_probability"] <= 1 for c in plan["candidates"])
    assert all("stage_acceptance" in c and "score" in c for c in plan["candidates"])


def test_bad_input_lists_each_field_and_exits_1(router_address: str) -> None:
    """An empty prompt and a negative budget: exit 1, each field and its fix on stderr."""
    done = switchyard("route", "", "--budget", "-1", "--router", router_address)
    assert done.returncode == 1
    assert "INVALID_ARGUMENT" in done.stderr
    assert "messages[0].content: must not be empty" in done.stderr
    assert "budget_micros: must not be negative" in done.stderr


def test_unreachable_router_exits_3() -> None:
    """No router on the address: a one-line message naming it, exit 3."""
    done = switchyard("route", "hi", "--router", "127.0.0.1:1", "--timeout", "5")
    assert done.returncode == 3
    assert "cannot reach the router at 127.0.0.1:1" in done.stderr


def test_route_sends_the_dev_token_unless_told_otherwise(router_address: str) -> None:
    """The suite checks callers' tokens as `make run` does: the CLI's default (the dev
    token) is accepted and runs as tenant demo; a wrong --token is UNAUTHENTICATED with
    a hint naming the dev token; another tenant is PERMISSION_DENIED. Exit 1 for both."""
    assert switchyard("plan", "hi", "--tenant", "demo", "--router", router_address).returncode == 0
    wrong = switchyard("route", "hi", "--token", "wrong", "--router", router_address)
    assert wrong.returncode == 1
    assert "UNAUTHENTICATED" in wrong.stderr and "dev-tenant-token" in wrong.stderr
    other = switchyard("route", "hi", "--tenant", "someone-else", "--router", router_address)
    assert other.returncode == 1 and "PERMISSION_DENIED" in other.stderr


def test_route_refuses_to_send_a_token_in_plaintext_to_another_host() -> None:
    """--token to a router that is not on this machine, without --tls-ca: exit 2 before
    any connection, saying why; the default dev token is simply not sent there."""
    done = switchyard("route", "hi", "--router", "192.0.2.1:50051", "--token", "secret")
    assert done.returncode == 2
    assert "refusing to send a bearer token in plaintext to 192.0.2.1:50051" in done.stderr
    assert router_token(None, address="192.0.2.1:50051", tls=None) == ""
    assert router_token(None, address="127.0.0.1:50051", tls=None) == DEV_TENANT_TOKEN
    assert router_token(None, address="192.0.2.1:50051", tls=TlsConfig()) == DEV_TENANT_TOKEN
    assert router_token("", address="127.0.0.1:50051", tls=None) == ""  # --token '' sends none
