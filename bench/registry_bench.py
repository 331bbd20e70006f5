"""Registry benchmark: GetModel latency and WatchModels fan-out to 50 watchers.

    python -m bench.registry_bench [--requests 3000] [--watchers 50] [--updates 100]

Starts a real registry process on a temporary database, seeds the demo fleet plus
filler models, then measures from a client process:
  * GetModel round trip (sequential, one channel), p50/p99/max;
  * fan-out: with N watchers on separate channels, the time from sending an
    UpdateModel until the last watcher has received the change (this includes the
    update's own commit and fsync), and the spread from the first to the last watcher.
Prints a table and writes bench/results/registry.json. Targets (issue 3): GetModel
p99 < 2 ms, fan-out to 50 watchers < 100 ms. Client and server share the machine, so
the figures include the client's own scheduling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
from google.protobuf import field_mask_pb2

from bench.service import start_service
from switchyard.fleet import apply_fleet, load_fleet
from switchyard.registry.v1 import registry_pb2, registry_pb2_grpc

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "registry.json"


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _start_registry(workdir: Path) -> tuple[asyncio.subprocess.Process, int]:
    return await start_service(
        "services.registry", "--db-path", str(workdir / "registry.db"), workdir=workdir
    )


async def _seed(stub: registry_pb2_grpc.RegistryServiceStub, filler: int) -> None:
    models = load_fleet(REPO / "examples" / "fleet.yaml", environ={})
    template = models[0]
    for i in range(filler):
        model = registry_pb2.Model()
        model.CopyFrom(template)
        model.name = f"models/filler-{i:03d}"
        models.append(model)
    result = await apply_fleet(stub, models)
    if not result.ok:
        raise SystemExit(f"seeding failed: {result.rejected or result.conflicts}")


async def _get_latency(address: str, requests: int) -> list[float]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        request = registry_pb2.GetModelRequest(name="models/small")
        for _ in range(200):  # warm-up: connection, caches, JIT-free but allocator-warm
            await stub.GetModel(request)
        samples = []
        for _ in range(requests):
            started = time.perf_counter()
            await stub.GetModel(request)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


async def _fan_out(
    address: str, watchers: int, updates: int
) -> tuple[list[float], list[float], list[float]]:
    """Per update: send -> last watcher's receipt, first -> last watcher's receipt, and
    the update's own round trip (commit + fsync), to tell disk stalls from fan-out."""
    channels = [grpc.aio.insecure_channel(address) for _ in range(watchers)]
    calls = [
        registry_pb2_grpc.RegistryServiceStub(ch).WatchModels(registry_pb2.WatchModelsRequest())
        for ch in channels
    ]
    for call in calls:
        first = await call.read()
        assert first.WhichOneof("event") == "snapshot"
    writer = grpc.aio.insecure_channel(address)
    stub = registry_pb2_grpc.RegistryServiceStub(writer)
    from_send: list[float] = []
    spread: list[float] = []
    update_rtt: list[float] = []
    mask = field_mask_pb2.FieldMask(paths=["display_name"])
    try:
        for i in range(updates):
            received: list[float] = []

            async def receive(call: grpc.aio.UnaryStreamCall, sink: list[float] = received) -> None:
                await call.read()
                sink.append(time.perf_counter())

            readers = [asyncio.create_task(receive(c)) for c in calls]
            await asyncio.sleep(0.01)  # every reader is parked on read()
            patch = registry_pb2.Model(name="models/small", display_name=f"bench {i}")
            sent = time.perf_counter()
            await stub.UpdateModel(registry_pb2.UpdateModelRequest(model=patch, update_mask=mask))
            update_rtt.append((time.perf_counter() - sent) * 1000)
            await asyncio.wait_for(asyncio.gather(*readers), 10)
            from_send.append((max(received) - sent) * 1000)
            spread.append((max(received) - min(received)) * 1000)
    finally:
        for call in calls:
            call.cancel()
        for ch in (*channels, writer):
            await ch.close()
    return from_send, spread, update_rtt


def _row(name: str, samples: list[float], target: str) -> dict[str, object]:
    return {
        "metric": name,
        "n": len(samples),
        "p50_ms": round(statistics.median(samples), 3),
        "p95_ms": round(_pct(samples, 0.95), 3),
        "p99_ms": round(_pct(samples, 0.99), 3),
        "max_ms": round(max(samples), 3),
        "target": target,
    }


async def run(requests: int, watchers: int, updates: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        process, port = await _start_registry(Path(tmp))
        address = f"127.0.0.1:{port}"
        try:
            async with grpc.aio.insecure_channel(address) as channel:
                await _seed(registry_pb2_grpc.RegistryServiceStub(channel), filler=46)
            get_ms = await _get_latency(address, requests)
            send_ms, spread_ms, update_ms = await _fan_out(address, watchers, updates)
        finally:
            process.terminate()
            await process.wait()
    rows = [
        _row("GetModel round trip", get_ms, "p99 < 2 ms"),
        _row(f"fan-out to {watchers} watchers (from update sent)", send_ms, "< 100 ms"),
        _row("  first-to-last watcher spread", spread_ms, ""),
        _row("UpdateModel round trip (commit + fsync)", update_ms, ""),
    ]
    return {
        "benchmark": "registry",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "note": "client and registry on the same machine",
        },
        "fleet_size": 50,
        "results": rows,
    }


def _print_table(report: dict[str, object]) -> None:
    rows = report["results"]
    assert isinstance(rows, list)
    print(
        f"{'metric':<46} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  target"
    )
    for row in rows:
        print(
            f"{row['metric']:<46} {row['n']:>5} {row['p50_ms']:>8.3f} {row['p95_ms']:>8.3f} "
            f"{row['p99_ms']:>8.3f} "
            f"{row['max_ms']:>8.3f}  {row['target']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--watchers", type=int, default=50)
    parser.add_argument("--updates", type=int, default=100)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    report = runner(run(args.requests, args.watchers, args.updates))
    _print_table(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
