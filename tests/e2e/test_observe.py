"""End to end: `make observe`'s tool starts the real Prometheus (Debian's binary)
scraping a real suite's processes; the rules load, the routes show up in its queries,
and every dashboard query runs there without error."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio

from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.suite import REPO_ROOT, Suite, SuiteMetricsPorts, SuitePorts, SuiteSettings
from tests.deploy.conftest import prometheus_binary
from tests.deploy.test_grafana_dashboard import load, queries, substituted

pytestmark = pytest.mark.asyncio(loop_scope="module")
SERVICES = ("router", "registry", "verifier", "controlplane")


def free_ports(count: int) -> list[int]:
    """Ports the OS has just handed out and released (a race only with other binds)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def suite(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Suite]:
    router, registry, controlplane, verifier = free_ports(4)
    async with Suite(
        SuiteSettings(
            state_dir=Path(tmp_path_factory.mktemp("observed")),
            ports=SuitePorts.ephemeral(),
            metrics=SuiteMetricsPorts(
                router=router, registry=registry, controlplane=controlplane, verifier=verifier
            ),
        )
    ) as running:
        yield running


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return json.loads(reply.read())


@pytest.fixture(scope="module")
def prometheus(suite: Suite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m switchyard.tools.observe` against the suite's metrics ports, scraping
    every second; its URL once Prometheus is ready."""
    prometheus_binary("prometheus")
    [port] = free_ports(1)
    targets = []
    for name in SERVICES:
        url = suite.metrics_url(name)
        assert url is not None
        targets += ["--target", f"{name}={urllib.parse.urlsplit(url).netloc}"]
    data = Path(tmp_path_factory.mktemp("prometheus"))
    log = (data / "observe.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "switchyard.tools.observe",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--interval",
            "1s",
            *targets,
        ],
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, (data / "observe.log").read_text()
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("Prometheus not ready in 30 s: " + (data / "observe.log").read_text())
        printed = (data / "observe.log").read_text()
        assert f"Prometheus: {base}" in printed
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log.close()


def query(base: str, promql: str) -> list[dict[str, Any]]:
    reply = get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    assert reply["status"] == "success", (promql, reply)
    return list(reply["data"]["result"])


async def wait_for(base: str, promql: str, want: float, timeout_s: float = 30) -> float:
    deadline = time.monotonic() + timeout_s
    seen = None
    while time.monotonic() < deadline:
        result = query(base, promql)
        seen = float(result[0]["value"][1]) if result else None
        if seen == want:
            return seen
        await asyncio.sleep(0.5)
    pytest.fail(f"{promql} = {seen}, not {want}, after {timeout_s} s")


async def test_prometheus_scrapes_every_service_and_sees_the_routes(
    suite: Suite, prometheus: str
) -> None:
    """All four services' targets are up, the routes sent are counted, the cost Prometheus
    holds is the responses' total, and every rule group loaded healthy."""
    async with grpc.aio.insecure_channel(suite.address("router")) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        replies = [
            await stub.Route(
                router_pb2.RouteRequest(
                    messages=[router_pb2.ChatMessage(role="user", content="What is a B-tree?")]
                ),
                timeout=20,
            )
            for _ in range(3)
        ]
    await wait_for(prometheus, 'count(up{job=~"switchyard-.*"} == 1)', len(SERVICES))
    await wait_for(prometheus, "sum(switchyard_router_routes_total)", 3)
    cost = sum(r.total_cost_micros for r in replies)
    await wait_for(prometheus, "sum(switchyard_router_cost_micros_total)", cost)
    groups = get(f"{prometheus}/api/v1/rules")["data"]["groups"]
    names = {g["name"] for g in groups}
    assert {"switchyard-slo-alerts", "switchyard-spend-alerts", "switchyard-router-alerts"} <= names
    unhealthy = [r["name"] for g in groups for r in g["rules"] if r.get("health") == "err"]
    assert not unhealthy


async def test_every_dashboard_query_runs_on_the_real_prometheus(prometheus: str) -> None:
    """Each query of the Grafana dashboard runs without error; the route counts and the
    per-rule latency have data already."""
    for expr in queries(load()):
        query(prometheus, substituted(expr))
    # A rate needs two scrapes since the routes: a second or two.
    routed = "sum(rate(switchyard_router_routes_total[1m])) >= 0"
    await wait_for(prometheus, f"count({routed})", 1)
    assert query(prometheus, "switchyard_router_route_latency_seconds_count")
