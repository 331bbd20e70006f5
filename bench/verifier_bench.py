"""Verifier benchmark: Verify throughput and server-side handler time.

    python -m bench.verifier_bench [--seconds 10] [--concurrency 32] [--clients 1] [--servers 1,2]

Starts a real verifier process (packaged quality scorer loaded), then drives Verify
from client process(es) with real GSM8K answers by Mixtral, each checked by the
deterministic checks a math route would use (non_empty, length, truncation,
final_answer, refusal, blocklist, regex) plus the scorer (min_score 0.5). Reports:
  * throughput (verifications/s) over the measured window, after a warm-up;
  * server handler time (VerifyResponse.server_time_us) p50 / p99 / max;
  * client round trip p50 / p99;
  * the embedded path (switchyard.checks in-process, as the router runs it) per call.
--servers lists the configurations to run: N verifier processes share one port
(SO_REUSEPORT, the runtime's --reuse-port) and the client spreads its calls over
several connections. The verifier is stateless and CPU-bound, so processes are how it
scales across cores; 1 is the default deployment.
Prints a table and writes bench/results/verifier.json. Targets (issue 4): >= 3,000
verifications/s and handler p99 < 1 ms. Clients and server share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import multiprocessing
import os
import platform
import socket
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import struct_pb2

from bench import h2load
from bench.cpu import process_cpu_s
from bench.grpc_frame import GRPC_HEADERS, grpc_url, write_body
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _start_verifiers(workdir: Path, count: int) -> tuple[list[Any], int]:
    """`count` verifier processes; more than one share a port with --reuse-port."""
    port = 0 if count == 1 else _free_port()
    processes = []
    for index in range(count):
        port_file = workdir / f"port{index}"
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.verifier", "--port", str(port),
            "--reuse-port", "true" if count > 1 else "false",
            "--port-file", str(port_file), "--log-level", "warning",
            cwd=REPO, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(process)
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if process.returncode is not None or time.monotonic() > deadline:
                raise SystemExit("verifier did not start")
            await asyncio.sleep(0.05)
        port = int(port_file.read_text())
    return processes, port


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, 0 when it is gone."""
    return process_cpu_s(pid) or 0.0


def embedded_timings(workload: list[tuple[str, str]], repeats: int = 3) -> dict[str, float]:
    """Per-call time of the in-process path (what a router embedding the checks pays)."""
    from switchyard.checks import CheckSpec, compile_specs, default_scorer

    compiled = compile_specs([CheckSpec(n, p) for n, p in CHECKS], scorer=default_scorer())
    plain = compile_specs([CheckSpec(n, p) for n, p in CHECKS])
    out: dict[str, float] = {}
    for label, checks, min_score in (
        ("checks_only", plain, 0.0),
        ("checks_and_scorer", compiled, MIN_SCORE),
    ):
        samples = []
        for _ in range(repeats):
            for prompt, output in workload:
                t0 = time.perf_counter_ns()
                checks.verify(prompt=prompt, task_type="math", output=output,
                              finish_reason="stop", min_score=min_score)  # fmt: skip
                samples.append((time.perf_counter_ns() - t0) / 1000)
        out[f"{label}_p50_us"] = round(_pct(samples, 0.5), 1)
        out[f"{label}_p99_us"] = round(_pct(samples, 0.99), 1)
    return out


VERIFY_PATH = "/switchyard.verifier.v1.VerifierService/Verify"


async def h2load_throughput(
    port: int, request: bytes, workdir: Path, *, seconds: float, pids: list[int]
) -> dict[str, Any]:
    """Verify/s under h2load (C, a few % of a core) with one representative request.

    The Python client costs about as much CPU per call as the verifier itself, and on a
    2-core machine that caps what the verifier can show; h2load leaves it the cores.
    Every reply is checked to be HTTP 200 and the server's answered count to match.
    """
    body = workdir / "verify.body"
    write_body(body, request)
    url = grpc_url(f"127.0.0.1:{port}", VERIFY_PATH)
    run = partial(h2load.run, url, connections=4, streams=8, body=body, headers=GRPC_HEADERS)
    warm = await run(requests=2000)
    cpu_before = sum(_process_cpu_s(pid) for pid in pids)
    main = await run(requests=max(2000, int(warm.rps * seconds)))
    cpu_s = sum(_process_cpu_s(pid) for pid in pids) - cpu_before
    return {
        "throughput_per_s": round(main.rps, 1),
        "requests": main.started,
        "http_2xx": main.status.get("2xx", 0),
        "failed": main.failed + main.errored + main.timeout,
        "server_cpu_cores": round(cpu_s / max(main.duration_s, 1e-9), 2),
        "h2load_cpu_cores": round(main.cpu_s / max(main.duration_s, 1e-9), 2),
    }


async def run(args: argparse.Namespace, servers: int, requests: list[bytes]) -> dict[str, Any]:
    """One configuration: `servers` verifier processes driven for args.seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        processes, port = await _start_verifiers(Path(tmp), servers)
        try:
            under_h2load = None
            if h2load.available():
                under_h2load = await h2load_throughput(
                    port,
                    requests[0],
                    Path(tmp),
                    seconds=args.seconds / 2,
                    pids=[p.pid for p in processes],
                )
            context = multiprocessing.get_context("spawn")
            queue = context.Queue()
            per_client = max(1, args.concurrency // args.clients)
            kwargs = {
                "seconds": args.seconds,
                "concurrency": per_client,
                "warmup_s": args.warmup,
                "channels": 2 * servers if servers > 1 else 1,
            }
            clients = [
                context.Process(
                    target=_client_process,
                    args=(port, requests, {**kwargs, "offset": c * 7919}, queue),
                )
                for c in range(args.clients)
            ]
            server_cpu_started = sum(_process_cpu_s(p.pid) for p in processes)
            for client in clients:
                client.start()
            results = [await asyncio.to_thread(queue.get) for _ in clients]
            server_cpu_s = sum(_process_cpu_s(p.pid) for p in processes) - server_cpu_started
            for client in clients:
                client.join()
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
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
    runs = [await run(args, servers, requests) for servers in args.servers]
    return {
        "benchmark": "verifier",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "workload": {
            "answers": f"GSM8K {WEAK} responses ({len(workload)})",
            "checks": [n for n, _ in CHECKS] + ["quality (scorer, min_score 0.5)"],
            "clients": args.clients,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
        },
        "runs": runs,
        "embedded_us": embedded_timings(workload),
        "targets": {"throughput_per_s": 3000, "server_handler_p99_us": 1000},
    }


def print_table(result: dict[str, Any]) -> None:
    runs = result["runs"]
    embedded = result["embedded_us"]
    workload = result["workload"]
    print(
        f"verifier bench: {workload['answers']}, {workload['clients']} client process(es), "
        f"{workload['concurrency']} in flight, {workload['seconds']:.0f} s per run, "
        f"{result['machine']['cpus']} CPUs"
    )
    header = "".join(f"{str(r['servers']) + ' verifier proc':>20}" for r in runs)
    print(f"{'metric':<26}{header}   target")
    lines = [
        ("Verify/s, h2load", lambda r: f"{r['h2load']['throughput_per_s']:,.0f}"
         if r.get("h2load") else "-", ">= 3,000"),
        ("Verify/s, Python client", lambda r: f"{r['throughput_per_s']:,.0f}", ""),
        ("server handler p50 us", lambda r: f"{r['server_handler_us']['p50']}", ""),
        ("server handler p99 us", lambda r: f"{r['server_handler_us']['p99']}", "< 1,000"),
        ("server handler max us", lambda r: f"{r['server_handler_us']['max']}", ""),
        ("client round trip p50 us", lambda r: f"{r['client_round_trip_us']['p50']:.0f}", ""),
        ("client round trip p99 us", lambda r: f"{r['client_round_trip_us']['p99']:.0f}", ""),
        ("CPU server / clients", lambda r: "{server:.2f} / {clients:.2f}".format(
            **r["cpu_utilisation"]), "cores"),
    ]  # fmt: skip
    for name, cell, target in lines:
        print(f"{name:<26}" + "".join(f"{cell(r):>20}" for r in runs) + f"   {target}")
    print(
        f"embedded (in-process) per verification: checks p50 {embedded['checks_only_p50_us']} "
        f"/ p99 {embedded['checks_only_p99_us']} us; checks + scorer p50 "
        f"{embedded['checks_and_scorer_p50_us']} / p99 {embedded['checks_and_scorer_p99_us']} us"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--clients", type=int, default=1)
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
