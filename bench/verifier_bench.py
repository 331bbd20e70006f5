"""Verifier benchmark: Verify throughput and the handler time of the same calls.

    python -m bench.verifier_bench [--seconds 10] [--concurrency 32] [--servers 1,2]

Starts a real verifier (`--workers N`, packaged quality scorer loaded) and drives
Verify with real GSM8K answers by Mixtral, each checked by the deterministic checks a
math route would use (non_empty, length, truncation, final_answer, refusal,
blocklist, regex) plus the scorer (min_score 0.5). Two runs per configuration:
  * h2load (C, a few % of a core) sends eight answers chosen across the cost
    distribution, for --seconds: Verify/s, and the handler time of those same calls
    from the verifier's own histogram (p99 as the bucket bound it is under). Both
    targets are judged on this run. Every call is reconciled with the server's count.
  * a Python gRPC client cycles through all 1,319 answers: exact handler times
    (VerifyResponse.server_time_us) and round trips, with the client competing for
    the same cores.
The embedded path (switchyard.checks in-process, as a router runs it) is timed too.
--servers lists the worker counts to run: 1 is the default deployment; the verifier
is stateless and CPU-bound, so workers (processes sharing the port) are how it uses
more cores. Prints a table and writes bench/results/verifier.json. Targets (issue 4):
>= 3,000 verifications/s and handler p99 < 1 ms, in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import struct_pb2

from bench import h2load, prom
from bench.cpu import child_pids, process_cpu_s
from bench.grpc_frame import GRPC_HEADERS, grpc_url, write_body
from bench.service import free_port_run, start_service
from bench.stats import histogram_bound, histogram_quantile
from switchyard.verifier.v1 import verifier_pb2 as pb
from switchyard.verifier.v1 import verifier_pb2_grpc

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "verifier.json"
DATA_FILES = (
    REPO.parent / "shared" / "data" / "routellm" / "gsm8k" / "gsm8k_responses.csv",
    REPO
    / "tests"
    / "verifier"
    / "fixtures"
    / "data"
    / "routellm"
    / "gsm8k"
    / "gsm8k_responses.csv",
)
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
MIN_SCORE = 0.5
CHECKS: list[tuple[str, dict[str, Any]]] = [
    ("non_empty", {}),
    ("length", {"min_chars": 1, "max_chars": 8000, "max_tokens": 2000}),
    ("truncation", {}),
    ("final_answer", {"style": "gsm8k"}),
    ("refusal", {}),
    ("blocklist", {"words": ["damn", "hell", "idiot", "stupid", "crap"]}),
    ("regex", {"must_not_match": [r"(?i)as an ai language model"]}),
]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load_workload() -> list[tuple[str, str]]:
    for path in DATA_FILES:
        if path.exists():
            with path.open(newline="") as handle:
                return [(r["prompt"], r[f"{WEAK}_response"]) for r in csv.DictReader(handle)]
    raise SystemExit("no GSM8K data found (looked in ../shared/data and tests fixtures)")


def build_requests(workload: list[tuple[str, str]]) -> list[bytes]:
    checks = []
    for name, params in CHECKS:
        struct = struct_pb2.Struct()
        struct.update(params)
        checks.append(pb.CheckSpec(name=name, params=struct))
    return [
        pb.VerifyRequest(
            prompt=prompt,
            task_type="math",
            candidate=pb.Candidate(id=str(i), output=output, finish_reason="stop"),
            checks=checks,
            min_score=MIN_SCORE,
        ).SerializeToString()
        for i, (prompt, output) in enumerate(workload)
    ]


async def _drive(port: int, requests: list[bytes], *, seconds: float, concurrency: int,
                 warmup_s: float, offset: int, channels: int) -> dict[str, Any]:  # fmt: skip
    """One client process: `concurrency` loops sending Verify for `seconds` after warm-up."""
    parsed = [pb.VerifyRequest.FromString(r) for r in requests]
    # A local subchannel pool per channel: separate TCP connections, which SO_REUSEPORT
    # spreads over the server processes.
    opened = [
        grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
        )
        for _ in range(channels)
    ]
    stubs = [verifier_pb2_grpc.VerifierServiceStub(c) for c in opened]
    try:
        for stub in stubs:
            await stub.ListChecks(pb.ListChecksRequest(), timeout=10)
        started = time.perf_counter()
        measure_from = started + warmup_s
        stop_at = measure_from + seconds
        server_us: list[int] = []
        client_us: list[float] = []
        verdicts = {"accept": 0, "reject": 0}

        async def loop(worker: int) -> None:
            i = offset + worker
            stub = stubs[worker % len(stubs)]
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                response = await stub.Verify(parsed[i % len(parsed)], timeout=10)
                done = time.perf_counter()
                i += concurrency
                if sent >= measure_from and done <= stop_at:
                    server_us.append(response.server_time_us)
                    client_us.append((done - sent) * 1e6)
                    accepted = response.verdict == pb.VERDICT_ACCEPT
                    verdicts["accept" if accepted else "reject"] += 1

        cpu_started = time.process_time()
        await asyncio.gather(*(loop(w) for w in range(concurrency)))
        cpu_s = time.process_time() - cpu_started
    finally:
        for channel in opened:
            await channel.close()
    return {
        "server_us": server_us,
        "client_us": client_us,
        "verdicts": verdicts,
        "cpu_s": cpu_s,
        "wall_s": time.perf_counter() - started,
    }


def _client_process(port: int, requests: list[bytes], kwargs: dict, queue: Any) -> None:
    try:
        import uvloop

        result = uvloop.run(_drive(port, requests, **kwargs))
    except ImportError:
        result = asyncio.run(_drive(port, requests, **kwargs))
    queue.put(result)


async def _start_verifier(workdir: Path, workers: int) -> tuple[Any, int, list[int], int]:
    """One verifier service with `workers` processes (--workers, as deployed).

    Returns (supervisor process, port, pids of every worker, first metrics port).
    """
    metrics_port = free_port_run(workers)
    process, port = await start_service(
        "services.verifier", "--workers", str(workers), "--metrics-port", str(metrics_port),
        workdir=workdir, timeout_s=60,
    )  # fmt: skip
    return process, port, [process.pid, *child_pids(process.pid)], metrics_port


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, 0 when it is gone."""
    return process_cpu_s(pid) or 0.0


def embedded_timings(
    workload: list[tuple[str, str]], repeats: int = 3
) -> tuple[dict[str, float], list[float]]:
    """Per-call time of the in-process path (what a router embedding the checks pays),
    and each answer's checks + scorer cost (best of `repeats`), in µs."""
    from switchyard.checks import CheckSpec, compile_specs, default_scorer

    compiled = compile_specs([CheckSpec(n, p) for n, p in CHECKS], scorer=default_scorer())
    plain = compile_specs([CheckSpec(n, p) for n, p in CHECKS])
    out: dict[str, float] = {}
    costs: list[float] = []
    for label, checks, min_score in (
        ("checks_only", plain, 0.0),
        ("checks_and_scorer", compiled, MIN_SCORE),
    ):
        samples: list[list[float]] = [[] for _ in workload]
        for _ in range(repeats):
            for index, (prompt, output) in enumerate(workload):
                t0 = time.perf_counter_ns()
                checks.verify(prompt=prompt, task_type="math", output=output,
                              finish_reason="stop", min_score=min_score)  # fmt: skip
                samples[index].append((time.perf_counter_ns() - t0) / 1000)
        flat = [s for per_answer in samples for s in per_answer]
        out[f"{label}_p50_us"] = round(_pct(flat, 0.5), 1)
        out[f"{label}_p99_us"] = round(_pct(flat, 0.99), 1)
        costs = [min(per_answer) for per_answer in samples]
    out["checks_and_scorer_mean_us"] = round(sum(costs) / len(costs), 1)
    return out, costs


VERIFY_PATH = "/switchyard.verifier.v1.VerifierService/Verify"
# Answers h2load sends (one h2load process each: it sends one body per run): the
# answers are split into equal-count bands by their in-process cost, and each band is
# represented by the answer whose cost is nearest the band's mean, so the mix costs
# what the whole workload does on average (the table shows both).
H2LOAD_ANSWERS = 8


def h2load_picks(costs: list[float], count: int = H2LOAD_ANSWERS) -> list[int]:
    order = sorted(range(len(costs)), key=costs.__getitem__)
    picks = []
    for band in range(count):
        members = order[band * len(order) // count : (band + 1) * len(order) // count]
        mean = sum(costs[i] for i in members) / len(members)
        picks.append(min(members, key=lambda i: abs(costs[i] - mean)))
    return picks


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
        return str(page.read().decode())


async def _verify_metrics(ports: list[int]) -> tuple[dict[float, float], dict[str, float]]:
    """Verify's handling-time buckets and status codes, summed over the workers."""
    texts = [await asyncio.to_thread(_scrape, port) for port in ports]
    buckets = prom.add_counts(
        *(prom.rpc_buckets(t, method=VERIFY_PATH, service="verifier") for t in texts)
    )
    codes = prom.add_counts(
        *(prom.rpc_codes(t, method=VERIFY_PATH, service="verifier") for t in texts)
    )
    return buckets, codes


async def h2load_run(
    port: int,
    bodies: list[bytes],
    workdir: Path,
    *,
    seconds: float,
    pids: list[int],
    metrics_ports: list[int],
    connections: int,
    concurrency: int,
) -> dict[str, Any]:
    """Verify/s under h2load and the handler time of those same calls.

    h2load (C, a few % of a core) leaves the cores to the verifier; the Python client
    costs about as much CPU per call as the verifier itself. h2load cannot read the
    replies, so the handler time comes from the verifier's own histogram
    (switchyard_rpc_seconds, read before and after): p99 is reported as the bucket
    bound it falls under, an upper bound. Every reply must be HTTP 200 and the
    verifiers' count of OK Verify calls must equal it.
    """
    url = grpc_url(f"127.0.0.1:{port}", VERIFY_PATH)
    files = [write_body(workdir / f"verify{i}.body", body) for i, body in enumerate(bodies)]
    # Several connections per h2load, like several routers calling one verifier; with
    # workers, SO_REUSEPORT spreads connections (not calls) over the processes.
    per_h2load = max(1, connections // len(files))
    streams = max(1, concurrency // (per_h2load * len(files)))

    async def drive(each: int) -> list[h2load.H2loadResult]:
        runs = (
            h2load.run(
                url,
                requests=each,
                connections=per_h2load,
                streams=streams,
                body=f,
                headers=GRPC_HEADERS,
            )
            for f in files
        )
        return list(await asyncio.gather(*runs))

    warm = await drive(500)
    rate = sum(w.started for w in warm) / max(w.duration_s for w in warm)
    buckets_before, codes_before = await _verify_metrics(metrics_ports)
    cpu_before = sum(_process_cpu_s(pid) for pid in pids)
    main = await drive(max(1000, int(rate * seconds / len(files))))
    cpu_s = sum(_process_cpu_s(pid) for pid in pids) - cpu_before
    buckets_after, codes_after = await _verify_metrics(metrics_ports)
    wall_s = max(m.duration_s for m in main)
    handled = {b: n - buckets_before.get(b, 0.0) for b, n in buckets_after.items()}
    codes = {c: n - codes_before.get(c, 0.0) for c, n in codes_after.items()}
    http_2xx = sum(m.status.get("2xx", 0) for m in main)
    p99_bound = histogram_bound(0.99, handled)
    return {
        "answers": len(files),
        "connections": per_h2load * len(files),
        "in_flight": streams * per_h2load * len(files),
        # The last h2load to finish bounds the window: a conservative rate.
        "throughput_per_s": round(http_2xx / wall_s, 1),
        "requests": sum(m.started for m in main),
        "http_2xx": http_2xx,
        "failed": sum(m.failed + m.errored + m.timeout for m in main),
        "server_codes": {c: int(n) for c, n in codes.items() if n},
        "reconciled": codes.get("OK", 0) == http_2xx == sum(m.started for m in main),
        "handler_us": {
            "p50_at_most": _us(histogram_bound(0.5, handled)),
            "p99_at_most": _us(p99_bound),
            "p99_interpolated": _us(histogram_quantile(0.99, handled)),
            "over_1ms": int(handled.get(math.inf, 0) - handled.get(0.001, 0)),
        },
        "server_cpu_cores": round(cpu_s / max(wall_s, 1e-9), 2),
        "h2load_cpu_cores": round(sum(m.cpu_s for m in main) / max(wall_s, 1e-9), 2),
    }


def _us(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1e6, 1)


async def run(
    args: argparse.Namespace, servers: int, requests: list[bytes], picks: list[int]
) -> dict[str, Any]:
    """One configuration: a verifier with `servers` worker processes."""
    with tempfile.TemporaryDirectory() as tmp:
        process, port, pids, metrics_port = await _start_verifier(Path(tmp), servers)
        metrics_ports = [metrics_port + i for i in range(servers)]
        try:
            under_h2load = None
            if h2load.available():
                under_h2load = await h2load_run(
                    port,
                    [requests[i] for i in picks],
                    Path(tmp),
                    seconds=args.seconds,
                    pids=pids,
                    metrics_ports=metrics_ports,
                    connections=args.connections,
                    concurrency=args.concurrency,
                )
            context = multiprocessing.get_context("spawn")
            queue = context.Queue()
            per_client = max(1, args.concurrency // args.clients)
            kwargs = {
                "seconds": args.seconds,
                "concurrency": per_client,
                "warmup_s": args.warmup,
                "channels": 8 * servers if servers > 1 else 1,
            }
            clients = [
                context.Process(
                    target=_client_process,
                    args=(port, requests, {**kwargs, "offset": c * 7919}, queue),
                )
                for c in range(args.clients)
            ]
            server_cpu_started = sum(_process_cpu_s(pid) for pid in pids)
            for client in clients:
                client.start()
            results = [await asyncio.to_thread(queue.get) for _ in clients]
            server_cpu_s = sum(_process_cpu_s(pid) for pid in pids) - server_cpu_started
            for client in clients:
                client.join()
        finally:
            process.terminate()
            await process.wait()
    server_us = [s for r in results for s in r["server_us"]]
    client_us = [s for r in results for s in r["client_us"]]
    accepted = sum(r["verdicts"]["accept"] for r in results)
    return {
        "servers": servers,
        "h2load": under_h2load,
        "verifications": len(server_us),
        "accept_rate": round(accepted / max(1, len(server_us)), 3),
        "throughput_per_s": round(len(server_us) / args.seconds, 1),
        "server_handler_us": {
            "p50": _pct(server_us, 0.5),
            "p99": _pct(server_us, 0.99),
            "max": max(server_us),
        },
        "client_round_trip_us": {
            "p50": round(_pct(client_us, 0.5), 1),
            "p99": round(_pct(client_us, 0.99), 1),
        },
        # CPU over the whole client run (warm-up included): where the cores went.
        "cpu_utilisation": {
            "server": round(server_cpu_s / max(r["wall_s"] for r in results), 2),
            "clients": round(
                sum(r["cpu_s"] for r in results) / max(r["wall_s"] for r in results), 2
            ),
        },
    }


async def run_all(args: argparse.Namespace) -> dict[str, Any]:
    workload = load_workload()
    requests = build_requests(workload)
    embedded, costs = embedded_timings(workload)
    picks = h2load_picks(costs)
    embedded["h2load_answers_mean_us"] = round(sum(costs[i] for i in picks) / len(picks), 1)
    runs = [await run(args, servers, requests, picks) for servers in args.servers]
    # The sent mix must cost at least (nearly) the workload mean, or the rate flatters.
    representative = (
        embedded["h2load_answers_mean_us"] >= 0.95 * embedded["checks_and_scorer_mean_us"]
    )
    for r in runs:
        h2 = r.get("h2load") or {}
        p99 = (h2.get("handler_us") or {}).get("p99_at_most")
        r["meets_targets"] = bool(
            representative
            and h2.get("reconciled")
            and h2["throughput_per_s"] >= TARGET_PER_S
            and p99 is not None
            and p99 < TARGET_P99_US
        )
    return {
        "benchmark": "verifier",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "workload": {
            "answers": f"GSM8K {WEAK} responses ({len(workload)})",
            "h2load_answers": picks,
            "checks": [n for n, _ in CHECKS] + ["quality (scorer, min_score 0.5)"],
            "clients": args.clients,
            "concurrency": args.concurrency,
            "h2load_connections": args.connections,
            "seconds": args.seconds,
        },
        "runs": runs,
        "embedded_us": embedded,
        "targets": {"throughput_per_s": TARGET_PER_S, "server_handler_p99_us": TARGET_P99_US},
    }


TARGET_PER_S = 3000
TARGET_P99_US = 1000


def _h2(key: str, fmt: str = "{:,.0f}") -> Any:
    def cell(r: dict[str, Any]) -> str:
        h2 = r.get("h2load")
        if not h2:
            return "-"
        value = h2["handler_us"][key] if key in h2["handler_us"] else h2[key]
        return "-" if value is None else fmt.format(value)

    return cell


def print_table(result: dict[str, Any]) -> None:
    runs = result["runs"]
    embedded = result["embedded_us"]
    workload = result["workload"]
    print(
        f"verifier bench: {workload['answers']}, {workload['seconds']:.0f} s per run, "
        f"{workload['concurrency']} in flight (h2load over {workload['h2load_connections']} "
        f"connections), {result['machine']['cpus']} CPUs"
    )
    header = "".join(f"{str(r['servers']) + ' worker(s)':>20}" for r in runs)
    print(f"{'metric':<40}{header}   target")
    lines = [
        (f"h2load, {H2LOAD_ANSWERS} answers: Verify/s", _h2("throughput_per_s"), ">= 3,000"),
        ("  same run: handler p99 at most, us", _h2("p99_at_most"), "< 1,000"),
        ("  same run: handler p99 interpolated, us", _h2("p99_interpolated"), ""),
        ("  same run: handler p50 at most, us", _h2("p50_at_most"), ""),
        ("  same run: calls over 1 ms", _h2("over_1ms"), ""),
        ("  same run: server OK count = 2xx sent", lambda r: str(r["h2load"]["reconciled"])
         if r.get("h2load") else "-", ""),
        ("  same run: CPU verifier / h2load", lambda r: "{:.2f} / {:.2f}".format(
            r["h2load"]["server_cpu_cores"], r["h2load"]["h2load_cpu_cores"])
         if r.get("h2load") else "-", "cores"),
        ("Python client, all answers: Verify/s", lambda r: f"{r['throughput_per_s']:,.0f}", ""),
        ("  handler p50 / p99 / max, us", lambda r: "{p50} / {p99} / {max}".format(
            **r["server_handler_us"]), ""),
        ("  client round trip p50 / p99, us", lambda r: "{p50:.0f} / {p99:.0f}".format(
            **r["client_round_trip_us"]), ""),
        ("  CPU verifier / clients", lambda r: "{server:.2f} / {clients:.2f}".format(
            **r["cpu_utilisation"]), "cores"),
        ("meets both targets in one run", lambda r: "yes" if r["meets_targets"] else "NO", ""),
    ]  # fmt: skip
    for name, cell, target in lines:
        print(f"{name:<40}" + "".join(f"{cell(r):>20}" for r in runs) + f"   {target}")
    print(
        f"embedded (in-process) per verification: checks p50 {embedded['checks_only_p50_us']} "
        f"/ p99 {embedded['checks_only_p99_us']} us; checks + scorer p50 "
        f"{embedded['checks_and_scorer_p50_us']} / p99 {embedded['checks_and_scorer_p99_us']} us;"
        f" mean {embedded['checks_and_scorer_mean_us']} us over all answers, "
        f"{embedded['h2load_answers_mean_us']} us over the {H2LOAD_ANSWERS} h2load sends"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument(
        "--connections", type=int, default=16, help="h2load connections in all (default 16)"
    )
    parser.add_argument(
        "--servers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2],
        help="comma-separated verifier process counts to run, e.g. 1,2",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = asyncio.run(run_all(args))
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
