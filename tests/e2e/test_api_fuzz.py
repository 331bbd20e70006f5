"""The API under random input (issue 10, section 6): generated RouteRequests, valid and
invalid (every field at its edges, odd Unicode, huge and empty values), sent to a real
router started by the launcher; each gets an answer or a documented status with its
details, never INTERNAL or UNKNOWN, and the router stays SERVING."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchyard.client import DEV_TENANT_TOKEN
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.tasks import TASK_TYPES

REPO = Path(__file__).resolve().parents[2]
DOCUMENTED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    # An idempotency key already used with another request body.
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
}
# The launcher's router checks callers' tokens (examples/tenants.yaml): the fuzz calls as
# the dev token's holder, tenant demo with tiers free, pro and enterprise.
AUTH = (("authorization", f"Bearer {DEV_TENANT_TOKEN}"),)
DEV_TENANTS = ("", "demo")
DEV_TIERS = ("", "free", "pro", "enterprise")


def expected_refusal(request: router_pb2.RouteRequest) -> str | None:
    """The PERMISSION_DENIED reason the dev token's checks give, before validation."""
    if request.tenant not in DEV_TENANTS:
        return "TENANT_MISMATCH"
    if request.tier not in DEV_TIERS:
        return "TIER_NOT_ALLOWED"
    return None


@pytest.fixture(scope="module")
def router_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("fuzz-suite")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "switchyard.cli.main", "run", "--ports", "ephemeral",
         "--state-dir", str(state)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    address = ""
    deadline = time.monotonic() + 60
    assert launcher.stdout is not None
    while not address and time.monotonic() < deadline:
        line = launcher.stdout.readline()
        if not line:
            break
        if match := re.match(r"Router: (\S+)", line):
            address = match.group(1)
    try:
        assert address, "the launcher did not print the router address"
        yield address
    finally:
        launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=30)


odd_text = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),
    st.sampled_from(["", " ", "\x00", "\u202e", "😀" * 100, "a" * 100_001, "b" * 20_000]),
)
plain_text = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300)
user_turn = st.builds(router_pb2.ChatMessage, role=st.just("user"), content=plain_text)
any_turn = st.builds(
    router_pb2.ChatMessage,
    role=st.one_of(st.sampled_from(["user", "system", "assistant"]), st.text(max_size=10)),
    content=odd_text,
)
edges = st.sampled_from([-(2**31), -1, 0, 1, 127, 128, 512, 100_000, 100_001, 2**31 - 1])
edges64 = st.one_of(edges, st.sampled_from([2**63 - 1, -(2**63)]))

# Per field: values a well-formed request may carry, and values at or past its edges.
# Most examples take every field from VALID but one from EDGE, so one bad field is not
# masked by another; the rest take every field from EDGE at once.
VALID = {
    "messages": st.lists(user_turn, min_size=1, max_size=3),
    "task_type": st.sampled_from(["", *sorted(TASK_TYPES)]),
    "tenant": st.one_of(st.just(""), st.text(max_size=40)),
    "tier": st.sampled_from(["", "free", "pro", "enterprise"]),
    "metadata": st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=50), max_size=3),
    "max_output_tokens": st.integers(0, 2048),
    "latency_slo_ms": st.integers(0, 60_000),
    "budget_micros": st.integers(0, 10**7),
    "response_format": st.sampled_from(sorted(router_pb2.ResponseFormat.values())),
    "idempotency_key": st.text(max_size=64),
}
EDGE = {
    "messages": st.one_of(st.just([]), st.lists(any_turn, min_size=1, max_size=6)),
    "task_type": st.text(max_size=20),
    "tenant": odd_text,
    "tier": odd_text,
    "metadata": st.dictionaries(st.text(max_size=140), st.text(max_size=1100), max_size=70),
    "max_output_tokens": edges,
    "latency_slo_ms": edges64,
    "budget_micros": edges64,
    "response_format": st.integers(min_value=-3, max_value=9),
    "idempotency_key": st.text(max_size=300),  # the limit is 256 bytes of UTF-8
}


def _one_bad_field(name: str) -> st.SearchStrategy[router_pb2.RouteRequest]:
    return st.builds(router_pb2.RouteRequest, **{**VALID, name: EDGE[name]})


requests = st.one_of(
    st.sampled_from(sorted(VALID)).flatmap(_one_bad_field),
    st.builds(router_pb2.RouteRequest, **EDGE),
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests)
def test_random_requests_get_documented_answers(router_address: str, request) -> None:
    """Every generated request is answered or refused with a documented code; a refusal
    for bad input carries BadRequest field violations; a tenant or tier the dev token
    does not allow is PERMISSION_DENIED with its reason, and only those are."""
    refusal = expected_refusal(request)
    with grpc.insecure_channel(router_address) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        try:
            stub.Route(request, timeout=10, metadata=AUTH)
            code = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            code = exc.code()
            assert code in DOCUMENTED, f"{code}: {exc.details()}"
            status = rpc_status.from_call(exc)
            if code is grpc.StatusCode.INVALID_ARGUMENT:
                assert status is not None, "INVALID_ARGUMENT without details"
                bad = [d for d in status.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)]
                assert bad, "INVALID_ARGUMENT without BadRequest"
            if code is grpc.StatusCode.PERMISSION_DENIED:
                assert status is not None, "PERMISSION_DENIED without details"
                info = error_details_pb2.ErrorInfo()
                assert any(d.Unpack(info) for d in status.details), "no ErrorInfo"
                assert info.reason == refusal, f"{info.reason}: {exc.details()}"
        assert code in DOCUMENTED
        assert (code is grpc.StatusCode.PERMISSION_DENIED) == (refusal is not None)


def test_router_still_serving_after_the_fuzz(router_address: str) -> None:
    """After the random requests the router's health is still SERVING (runs after the
    fuzz test in file order)."""
    with grpc.insecure_channel(router_address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
