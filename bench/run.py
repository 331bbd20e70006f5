"""`make bench` / `make bench-peers`: run the scenario list and report.

    python -m bench.run                   # every scenario, then the peers when possible
    python -m bench.run --peers only      # Switchyard's single route + the peer gateways
    python -m bench.run --only cascade    # some scenarios (plus what they depend on)
    python -m bench.run --readme          # print the README table of bench/results/latest.json

Results: bench/results/bench-<run>.json, latest.json and a PNG beside them. The exit
status is 1 when any run's counts do not reconcile or a scenario failed; missed
targets are reported, not fatal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from bench import chart, h2load, machine, report, verdicts
from bench.cpu import us_per_request
from bench.faults import run_faults
from bench.grpc_frame import write_body
from bench.interleaved import Member, interleaved, interleaved_figures
from bench.measure import (
    BenchSettings,
    GrpcTarget,
    fixed_rate_h2load,
    fixed_rate_point,
    throughput,
)
from bench.paired import PairedSet, paired_figures, paired_sets, round_order
from bench.peers.compare import PEER_NAMES, compare, run_peer, simulator_direct
from bench.plan import (
    ScenarioError,
    build_policy,
    check_scenarios,
    request_for,
    router_args_of,
    select,
)
from bench.scale import run_scale
from bench.scenarios import SCENARIOS, Faults, FixedRate, Scale, Scenario, Throughput
from bench.stack import BASE_POLICY_FILE, FLEET_FILE, Stack, start_stack

WORK_DIR = Path(__file__).resolve().parent / ".work"
_T0 = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _T0:5.0f}s] {message}", file=sys.stderr, flush=True)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--window-s", type=float, default=6.0, help="measured seconds per run")
    parser.add_argument(
        "--peers",
        choices=("auto", "skip", "only"),
        default=os.environ.get("BENCH_PEERS", "auto"),
        help="auto: run the peers when they can be installed; only: Switchyard's single"
        " route and the peers (make bench-peers)",
    )
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument(
        "--verifier-mode",
        choices=("remote", "embedded"),
        default="embedded",
        help="the routers' verifier for scenarios without router_args of their own",
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=BenchSettings.client_processes,
        help="processes of the Python fixed-rate client",
    )
    parser.add_argument(
        "--quiet-wait-s",
        type=float,
        default=60.0,
        help="wait up to this long for other work on the machine to calm down first",
    )
    parser.add_argument(
        "--rounds",
        type=_positive,
        default=1,
        help="run the throughput scenarios this many times, round-robin on one suite, and"
        " keep each one's median-throughput run (ratios then compare runs made under the"
        " same drifting load)",
    )
    parser.add_argument(
        "--pair-rounds",
        type=_positive,
        default=3,
        help="rounds of the paired scenarios (bench/scenarios.py PAIRED: single vs score"
        " and auto, decision log off vs on), run round-robin with their suites all up;"
        " 1: each once, on its own suite, like any other scenario",
    )
    parser.add_argument(
        "--pair-blocks",
        type=int,
        default=24,
        help="after the paired rounds, this many blocks of short interleaved slices"
        " (bench/interleaved.py) give the paired targets' figures; 0: judge the rounds",
    )
    parser.add_argument("--out", type=Path, default=report.RESULTS_DIR)
    parser.add_argument("--readme", action="store_true", help="print the README table and exit")
    return parser.parse_args(argv)


def _echo_target(stack: Stack) -> GrpcTarget:
    return GrpcTarget(
        "echo", stack.echo.address, stack.echo.counts, lambda: {"echo": stack.echo.process.pid}
    )


def _router_target(stack: Stack) -> GrpcTarget:
    return GrpcTarget(
        "router",
        stack.router_address,
        stack.router_counts,
        stack.pids,
        latency_buckets=stack.router_latency_buckets,
    )


async def run_scenario(
    stack: Stack,
    scenario: Scenario,
    done: dict[str, Any],
    settings: BenchSettings,
    work_dir: Path,
) -> dict[str, Any]:
    if isinstance(scenario, Throughput):
        target = _echo_target(stack) if scenario.target == "echo" else _router_target(stack)
        request = request_for(scenario).SerializeToString()
        figures = await throughput(target, request, work_dir, settings, name=scenario.name)
        return {"kind": "throughput", "about": scenario.about, "target": scenario.target, **figures}
    if isinstance(scenario, FixedRate):
        of = done.get(scenario.of, {})
        if "throughput_rps" not in of:
            return {"kind": "fixed_rate", "skipped": f"{scenario.of} has no measured maximum"}

        async def measure_fixed_rate(
            target: GrpcTarget, request: bytes, rate: float
        ) -> dict[str, Any]:
            # h2load when installed (it barely uses the CPU the servers need); the Python
            # client, which costs about half a core at these rates, otherwise.
            if h2load.available():
                return await fixed_rate_h2load(target, request, rate, settings, work_dir)
            return await fixed_rate_point(target, request, rate, settings)

        source = next(s for s in SCENARIOS if s.name == scenario.of)
        assert isinstance(source, Throughput)
        request = request_for(source).SerializeToString()
        points = []
        for fraction in scenario.fractions:
            rate = of["throughput_rps"] * fraction
            say(f"{scenario.name}: {fraction * 100:.0f} % = {rate:,.0f} req/s")
            point = await measure_fixed_rate(_router_target(stack), request, rate)
            point["fraction"] = fraction
            if scenario.floor:
                point["floor"] = await measure_fixed_rate(_echo_target(stack), request, rate)
            points.append(point)
        return {
            "kind": "fixed_rate",
            "about": scenario.about,
            "of": scenario.of,
            "max_rps": of["throughput_rps"],
            "points": points,
        }
    if isinstance(scenario, Faults):
        figures = await run_faults(stack, scenario, settings.client_processes)
        return {"kind": "faults", "about": scenario.about, **figures}
    raise TypeError(f"no runner for {type(scenario).__name__}")


async def run_peers(
    stack: Stack, done: dict[str, Any], settings: BenchSettings, work_dir: Path
) -> dict[str, Any]:
    single = done.get("single", {})
    if "throughput_rps" not in single:
        return {"status": "skipped: Switchyard's single route was not measured"}
    if not h2load.available():
        return {"status": "skipped: h2load is not installed"}
    say("peers: the simulator alone (baseline)")
    direct = await simulator_direct(stack, work_dir, settings)
    gateways: dict[str, Any] = {}
    for name in PEER_NAMES:
        say(f"peers: {name} (installs under bench/.peers on first use)")
        gateways[name] = await run_peer(stack, name, work_dir, settings)
        if "skipped" in gateways[name]:
            say(f"peers: {name} SKIPPED: {gateways[name]['skipped']}")
    return {
        "status": "measured",
        "simulator_direct": direct,
        "gateways": gateways,
        "comparison": compare(single, direct, gateways, done.get("fallback")),
    }


QUIET_BUSY_PERCENT = 20.0


def wait_for_quiet(max_wait_s: float) -> float:
    """The machine's busy % before the run, after waiting (up to max_wait_s) for other
    work to drop below QUIET_BUSY_PERCENT: a shared machine skews every figure."""
    busy = machine.background_busy_percent()
    deadline = time.monotonic() + max_wait_s
    while busy >= QUIET_BUSY_PERCENT and time.monotonic() < deadline:
        say(f"the cores are {busy:.0f} % busy with other work; waiting for it to calm down")
        time.sleep(3)
        busy = machine.background_busy_percent()
    if busy >= QUIET_BUSY_PERCENT:
        say(f"still {busy:.0f} % busy with other work: figures will be lower than they should")
    return busy


async def bench(args: argparse.Namespace, busy_before: float) -> dict[str, Any]:
    settings = BenchSettings(window_s=args.window_s, client_processes=args.client_processes)
    scenarios = check_scenarios(SCENARIOS)
    only = [n for n in args.only.split(",") if n]
    if args.peers == "only":
        only = only or ["single", "fallback"]
    chosen = select(scenarios, only)
    known_models = [m["id"] for m in yaml.safe_load(FLEET_FILE.read_text())]
    policy_text, refused = build_policy(BASE_POLICY_FILE.read_text(), chosen, known_models)
    routers = max([s.routers for s in chosen if isinstance(s, Scale)], default=1)
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    work_dir = WORK_DIR / run_id
    # Only the latest run's state, logs and request bodies are kept (router logs of a
    # run are tens of MB).
    if WORK_DIR.exists():
        for old in WORK_DIR.iterdir():
            shutil.rmtree(old, ignore_errors=True)
    result: dict[str, Any] = {
        "schema": 1,
        "run_id": run_id,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.run", *sys.argv[1:]]),
        "machine": machine.describe(busy_before),
        "settings": {**asdict(settings), "verifier_mode": args.verifier_mode, "routers": routers},
        "scenarios": {},
    }
    base_args = ("--verifier-mode", args.verifier_mode)
    pairs = paired_sets(chosen, refused) if args.pair_rounds > 1 else []
    paired_names = {s.name for p in pairs for s in p.members}
    # The main suite runs every scenario without router flags of its own (and the
    # peers); each set of extra router flags gets a suite of its own afterwards.
    groups: dict[tuple[str, ...], list[Scenario]] = {(): []}
    for scenario in chosen:
        if scenario.name not in paired_names:
            groups.setdefault(router_args_of(scenario), []).append(scenario)
    on_main = [p for p in pairs if not any(router_args_of(s) for s in p.members)]
    apart = [p for p in pairs if p not in on_main]
    done: dict[str, Any] = {}
    suites = Suites(work_dir, policy_text, base_args, routers)
    try:
        for extra, group in groups.items():
            main = not extra
            if not group and not (main and (args.peers != "skip" or on_main)):
                continue
            stack = await suites.get(extra)
            for step in suite_steps(group, on_main if main else []):
                if isinstance(step, PairedSet):
                    await run_paired(suites, step, chosen, done, settings, work_dir, args)
                else:
                    rows, rounds = step
                    await run_group(
                        stack,
                        rows,
                        chosen,
                        refused,
                        done,
                        settings,
                        work_dir,
                        rounds=args.rounds if rounds else 1,
                    )
            if main and args.peers != "skip":
                result["peers"] = await run_peers(stack, done, settings, work_dir)
            await suites.close(extra)
        for pair in apart:
            await run_paired(suites, pair, chosen, done, settings, work_dir, args)
            await suites.close_all()
    finally:
        await suites.close_all()
    if args.peers == "skip":
        result["peers"] = {"status": "skipped (--peers skip / BENCH_PEERS=skip)"}
    result["scenarios"] = {s.name: done[s.name] for s in chosen if s.name in done}
    return result


def scales_first(group: Sequence[Scenario]) -> tuple[list[Scenario], list[Scenario]]:
    """The main suite's scale rows (run before anything else there: they stop the extra
    routers sharing the port) and the rest, in order."""
    scales = [s for s in group if isinstance(s, Scale)]
    return scales, [s for s in group if not isinstance(s, Scale)]


# What a suite runs next: a paired set, or rows (and whether `--rounds` applies to them).
SuiteStep = PairedSet | tuple[list[Scenario], bool]


def suite_steps(group: Sequence[Scenario], pairs: Sequence[PairedSet]) -> list[SuiteStep]:
    """A suite's work in order. Scale first: it needs the extra routers sharing the port
    and stops them, so every other row measures one router (the kernel would spread each
    run's few connections unevenly over two). Then the pairs (the fixed-rate rows use
    single's measured maximum), then the other rows, in rounds."""
    scales, rest = scales_first(group)
    steps: list[SuiteStep] = [(scales, False)] if scales else []
    steps += pairs
    steps.append((rest, True))
    return steps


class Suites:
    """Running suites by their extra router flags (one each), started on first use."""

    def __init__(
        self, work_dir: Path, policy_text: str, base_args: tuple[str, ...], routers: int
    ) -> None:
        self.work_dir, self.policy_text = work_dir, policy_text
        self.base_args, self.routers = base_args, routers
        self.stacks: dict[tuple[str, ...], Stack] = {}

    async def get(self, extra: tuple[str, ...]) -> Stack:
        if extra not in self.stacks:
            n_routers = self.routers if not extra else 1
            flags = " ".join((*self.base_args, *extra))
            say(f"starting the suite ({n_routers} router process(es), {flags}) and the echo server")
            self.stacks[extra] = await start_stack(
                self.work_dir / ("main" if not extra else "-".join(a.strip("-") for a in extra)),
                self.policy_text,
                routers=n_routers,
                router_args=(*self.base_args, *extra),
            )
        return self.stacks[extra]

    async def close(self, extra: tuple[str, ...]) -> None:
        stack = self.stacks.pop(extra, None)
        if stack is not None:
            say(f"stopping the suite ({' '.join(extra) or 'main'})")
            await stack.close()

    async def close_all(self) -> None:
        for extra in list(self.stacks):
            await self.close(extra)


async def run_paired(
    suites: Suites,
    pair: PairedSet,
    chosen: Sequence[Scenario],
    done: dict[str, Any],
    settings: BenchSettings,
    work_dir: Path,
    args: argparse.Namespace,
) -> None:
    """A base and its variants round-robin, each on its suite (all up at once); each
    keeps its median run, and each variant gets its per-round figures against the base."""
    runs: dict[str, list[dict[str, Any]]] = {s.name: [] for s in pair.members}
    for extra in dict.fromkeys(router_args_of(s) for s in pair.members):
        await suites.get(extra)
    for round_index in range(args.pair_rounds):
        for scenario in round_order(pair.members, round_index):
            say(
                f"{scenario.name} (paired round {round_index + 1} of {args.pair_rounds}):"
                f" {scenario.about}"
            )
            stack = await suites.get(router_args_of(scenario))
            runs[scenario.name].append(
                await _run_one(stack, scenario, chosen, done, settings, work_dir)
            )
    for scenario in pair.members:
        done[scenario.name] = median_run(runs[scenario.name])
    slices: dict[str, dict[str, Any]] = {}
    if args.pair_blocks > 0 and all("throughput_rps" in done[s.name] for s in pair.members):
        say(
            f"{', '.join(s.name for s in pair.members)}: {args.pair_blocks} blocks of"
            f" interleaved {settings.slice_s:g} s slices, then an alternating sample"
        )
        members = []
        for scenario in pair.members:
            request = request_for(scenario).SerializeToString()
            members.append(
                Member(
                    scenario.name,
                    _router_target(await suites.get(router_args_of(scenario))),
                    request,
                    write_body(work_dir / f"{scenario.name}.body", request),
                    done[scenario.name]["throughput_rps"],
                )
            )
        try:
            slices = await interleaved(members, settings, blocks=args.pair_blocks)
        except Exception as exc:  # reported like a failed run; the targets are not measured
            say(f"interleaved slices: FAILED: {exc!r}")
            traceback.print_exc()
            for scenario in pair.members:
                done[scenario.name]["interleaved"] = {"error": repr(exc)}
        for scenario, figures in slices.items():
            done[scenario]["interleaved"] = figures
    for variant in pair.variants:
        done[variant.name]["paired"] = {
            "base": pair.base.name,
            **paired_figures(runs[pair.base.name], runs[variant.name]),
        }
        if slices:
            done[variant.name]["paired"]["interleaved"] = interleaved_figures(
                slices[pair.base.name], slices[variant.name]
            )
        elif "error" in done[variant.name].get("interleaved", {}):
            # Not judged on the rounds either: they cannot resolve the targets.
            done[variant.name]["paired"]["interleaved"] = done[variant.name]["interleaved"]


async def run_group(
    stack: Stack,
    group: Sequence[Scenario],
    chosen: Sequence[Scenario],
    refused: dict[str, str],
    done: dict[str, Any],
    settings: BenchSettings,
    work_dir: Path,
    *,
    rounds: int = 1,
) -> None:
    """Run scenarios on one suite; a failure is recorded and the others go on. With
    `rounds` > 1 the throughput scenarios run round-robin that many times first (so
    fixed-rate runs see their median maximum) and each keeps its median run."""
    # Scale runs first: it needs the extra routers, and stops them when it is done.
    ordered = [s for s in group if isinstance(s, Scale)] + [
        s for s in group if not isinstance(s, Scale)
    ]
    if rounds > 1:
        repeated = [s for s in ordered if isinstance(s, Throughput) and s.name not in refused]
        runs: dict[str, list[dict[str, Any]]] = {s.name: [] for s in repeated}
        for round_index in range(rounds):
            for scenario in repeated:
                say(f"{scenario.name} (round {round_index + 1} of {rounds}): {scenario.about}")
                runs[scenario.name].append(
                    await _run_one(stack, scenario, chosen, done, settings, work_dir)
                )
        for name, results in runs.items():
            done[name] = median_run(results)
        ordered = [s for s in ordered if s not in repeated]
    for scenario in ordered:
        if scenario.name in refused:
            done[scenario.name] = {"kind": _kind(scenario), "skipped": refused[scenario.name]}
            say(f"{scenario.name}: SKIPPED, policy refused: {refused[scenario.name]}")
            continue
        say(f"{scenario.name}: {scenario.about}")
        done[scenario.name] = await _run_one(stack, scenario, chosen, done, settings, work_dir)


async def _run_one(
    stack: Stack,
    scenario: Scenario,
    chosen: Sequence[Scenario],
    done: dict[str, Any],
    settings: BenchSettings,
    work_dir: Path,
) -> dict[str, Any]:
    try:
        if isinstance(scenario, Scale):
            of = next(s for s in chosen if s.name == scenario.of)
            assert isinstance(of, Throughput)
            figures = await run_scale(stack, scenario, of, work_dir, settings)
            return {"kind": "scale", "about": scenario.about, **figures}
        return await run_scenario(stack, scenario, done, settings, work_dir)
    except Exception as exc:
        say(f"{scenario.name}: FAILED: {exc!r}")
        traceback.print_exc()
        return {"kind": _kind(scenario), "error": repr(exc)}


def median_run(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The run of median throughput (the lower middle of an even count), with every
    round's throughput and counts beside it; a failed round makes the whole a failure,
    as one failed run does."""
    failed = [r for r in results if "throughput_rps" not in r]
    if failed:
        return failed[0]
    ranked = sorted(results, key=lambda r: r["throughput_rps"])
    chosen = dict(ranked[(len(ranked) - 1) // 2])
    chosen["rounds"] = {
        "throughput_rps": [r["throughput_rps"] for r in results],
        "router_added_p99_ms": [
            r.get("sample", {}).get("router_added_ms", {}).get("p99") for r in results
        ],
        # CPU the router process spent per request: steadier than throughput when other
        # work on the machine takes cores away (it still inflates it somewhat).
        "router_cpu_us_per_request": [_router_cpu_us(r) for r in results],
        "reconciled": all(r.get("counts", {}).get("reconciled", False) for r in results),
    }
    return chosen


def _router_cpu_us(run: dict[str, Any]) -> float | None:
    percent = run.get("cpu", {}).get("percent_of_one_core", {}).get("router")
    return us_per_request(percent, run.get("throughput_rps"))


def _kind(scenario: Scenario) -> str:
    return {Throughput: "throughput", FixedRate: "fixed_rate", Faults: "faults", Scale: "scale"}[
        type(scenario)
    ]


def finish(result: dict[str, Any], out_dir: Path) -> int:
    result["duration_s"] = round(time.monotonic() - _T0, 1)
    result["targets"] = verdicts.check_targets(result)
    checked = {**result["scenarios"], "peers": result.get("peers", {})}
    not_reconciled = [
        name
        for name, node in checked.items()
        if verdicts.count_problems(node)
        or (node.get("counts") is not None and not verdicts.reconciled(node))
    ]
    result["reconciled"] = not not_reconciled
    result["not_reconciled"] = not_reconciled
    result["count_problems"] = verdicts.count_problems(checked)
    failed = [
        n
        for n, s in result["scenarios"].items()
        if "error" in s or "error" in s.get("interleaved", {})
    ]
    path = report.write(result, out_dir)
    png = path.with_suffix(".png")
    if chart.available():
        chart.draw(result, png)
        (out_dir / "latest.png").write_bytes(png.read_bytes())
    else:
        png = None
    print(report.render(result))
    print(f"\nJSON: {path}" + (f"\nPNG:  {png}" if png else "\nPNG:  skipped (no matplotlib)"))
    print("README table: python -m bench.run --readme")
    if failed:
        print(f"FAILED scenarios: {', '.join(failed)}", file=sys.stderr)
    return 1 if (not_reconciled or failed) else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.readme:
        latest = args.out / "latest.json"
        if not latest.exists():
            print(f"no results yet: {latest} (run make bench)", file=sys.stderr)
            return 1
        print(report.readme_table(json.loads(latest.read_text())))
        return 0
    if not h2load.available():
        print(
            "bench: h2load not found; install Debian's nghttp2-client (make bench does)",
            file=sys.stderr,
        )
        return 2
    try:
        import uvloop

        busy_before = wait_for_quiet(args.quiet_wait_s)
        result = uvloop.run(bench(args, busy_before))
    except ScenarioError as exc:
        print(f"bench: bad scenario list: {exc}", file=sys.stderr)
        return 2
    return finish(result, args.out)


if __name__ == "__main__":
    sys.exit(main())
