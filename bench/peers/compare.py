"""`make bench-peers`: each peer gateway under the same load generator, against the
same simulator, next to Switchyard's figures from the same run.

Added latency is a gateway's median at concurrency 1 minus the simulator's own median
at concurrency 1 (h2load straight at the simulator): what putting the gateway in the
path costs one request, everything else equal.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bench.measure import BenchSettings, LoadTarget, RunLedger, saturate
from bench.peers import install
from bench.peers.gateways import (
    Gateway,
    await_ready,
    start_litellm_proxy,
    start_litellm_router,
    start_portkey,
)
from bench.peers.install import PeerUnavailable
from bench.scenarios import PROMPT
from bench.stack import Stack
from bench.stats import count_delta

PEER_NAMES = ("litellm-proxy", "litellm-router", "portkey")


async def _measure(
    stack: Stack,
    label: str,
    url: str,
    body: bytes,
    headers: tuple[str, ...],
    pids: dict[str, int],
    work_dir: Path,
    settings: BenchSettings,
) -> dict[str, Any]:
    body_path = work_dir / f"{label}.json"
    body_path.write_bytes(body)
    ledger = RunLedger()
    calls_before = await stack.model_calls()
    target = LoadTarget(label, url, body_path, headers, lambda: pids, counts=None, h1=True)
    result = await saturate(target, work_dir, settings, ledger, name=label)
    calls = count_delta(calls_before, await stack.model_calls())
    result["model_calls"] = calls
    result["counts"] = ledger.as_dict()
    return result


async def simulator_direct(stack: Stack, work_dir: Path, settings: BenchSettings) -> dict[str, Any]:
    """The model server alone: the baseline every gateway's latency is measured from."""
    body = (
        b'{"model": "instant", "messages": [{"role": "user", "content": "'
        + PROMPT.encode()
        + b'"}]}'
    )
    return await _measure(
        stack,
        "simulator-direct",
        f"{stack.suite.simulator_url}/v1/chat/completions",
        body,
        ("content-type: application/json",),
        {"simulator": stack.suite.services["simulator"].process.pid},
        work_dir,
        settings,
    )


async def _start(name: str, simulator_v1: str, work_dir: Path) -> Gateway:
    """Install (first time only) and start one peer; PeerUnavailable says why not."""
    if name == "portkey":
        entry = await asyncio.to_thread(install.ensure_portkey)
        gateway = start_portkey(entry, simulator_v1, work_dir)
        gateway.versions = {"@portkey-ai/gateway": install.PORTKEY_SPEC.rsplit("@", 1)[-1]}
        return gateway
    python = await asyncio.to_thread(install.ensure_litellm)
    if name == "litellm-proxy":
        gateway = start_litellm_proxy(python, simulator_v1, work_dir)
    else:
        gateway = await start_litellm_router(python, simulator_v1, work_dir)
    gateway.versions = {"litellm": install.installed_version(python, "litellm")}
    return gateway


async def run_peer(
    stack: Stack, name: str, work_dir: Path, settings: BenchSettings
) -> dict[str, Any]:
    """One peer's figures, or {"skipped": why} when it cannot be installed or run."""
    simulator_v1 = f"{stack.suite.simulator_url}/v1"
    try:
        gateway = await _start(name, simulator_v1, work_dir)
    except PeerUnavailable as exc:
        return {"skipped": str(exc)}
    try:
        await await_ready(gateway, PROMPT, timeout_s=120)
        pids = {
            name: gateway.process.pid,
            "simulator": stack.suite.services["simulator"].process.pid,
        }
        result = await _measure(
            stack,
            name,
            gateway.url,
            gateway.body(PROMPT),
            gateway.headers,
            pids,
            work_dir,
            settings,
        )
    except PeerUnavailable as exc:
        return {"skipped": str(exc)}
    finally:
        await gateway.stop()
    result["about"] = gateway.about
    result["versions"] = gateway.versions
    return result


def compare(
    switchyard: dict[str, Any],
    direct: dict[str, Any],
    peers: dict[str, dict[str, Any]],
    fallback: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Ratios of Switchyard's single route to each peer: throughput (higher is better)
    and added median latency at concurrency 1 (lower is better). Switchyard's fallback
    route (the peers' own configuration) is listed too, for reference."""
    base_ms = direct["unloaded_latency_ms"]["p50"]

    def added(result: dict[str, Any]) -> float:
        return max(0.0, result["unloaded_latency_ms"]["p50"] - base_ms)

    ours_rps = switchyard["throughput_rps"]
    ours_added = added(switchyard)
    rows: dict[str, Any] = {
        "switchyard": {"throughput_rps": ours_rps, "added_p50_ms": round(ours_added, 3)}
    }
    if fallback and "throughput_rps" in fallback:
        rows["switchyard-fallback"] = {
            "throughput_rps": fallback["throughput_rps"],
            "added_p50_ms": round(added(fallback), 3),
        }
    for name, result in peers.items():
        if "skipped" in result:
            rows[name] = {"skipped": result["skipped"]}
            continue
        peer_added = added(result)
        rows[name] = {
            "throughput_rps": result["throughput_rps"],
            "added_p50_ms": round(peer_added, 3),
            "switchyard_throughput_x": round(ours_rps / result["throughput_rps"], 2)
            if result["throughput_rps"]
            else None,
            "switchyard_added_latency_lower_x": round(peer_added / ours_added, 2)
            if ours_added
            else None,
        }
    return {"model_direct_p50_ms": base_ms, "rows": rows}
