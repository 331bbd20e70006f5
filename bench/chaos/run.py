"""Run the chaos timeline against a real suite and judge it.

    python -m bench.chaos                 # the full run (`make chaos`, ~14 min)
    python -m bench.chaos --soak-s 120    # a shorter soak
    python -m bench.chaos --profile short # about a minute (what the test runs)

Exit status: 0 when every check passed, 1 when one failed, 2 when the run itself
could not be made (the suite did not start, a load worker died).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench import prom
from bench.chaos import checks as chk
from bench.chaos import report, summary
from bench.chaos.actions import ControlPlane, ModelServer, RouterProbe
from bench.chaos.load import start_load
from bench.chaos.outcomes import BreakerTransition, CallOutcome, PhaseWindow
from bench.chaos.phases import (
    PROFILES,
    RECOVERY_PHASES,
    SERVED_MODELS,
    SOAK,
    TIMELINE,
    Chaos,
    ChaosProfile,
)
from bench.faults import parse_breaker_transitions
from bench.machine import describe, one_line
from bench.service import free_port_run
from bench.stats import count_delta
from switchyard.router.v1 import router_pb2
from switchyard.suite import Suite, SuitePorts, SuiteSettings

FILES = Path(__file__).resolve().parent / "files"
BENCH = Path(__file__).resolve().parents[1]
RESULTS_DIR = BENCH / "results"
WORK_DIR = BENCH / ".work"

# The short run's soak has ~400 calls: one unlucky call (four failed attempts in a row,
# p ≈ 1e-4 each) is 0.25 %, so 99.9 % cannot be resolved in it; 99.5 % allows two.
SHORT_THRESHOLDS = chk.Thresholds(soak_success=0.995)

PROMPT = (
    "Explain how a circuit breaker keeps one failing service from taking its callers down with it."
)


def chaos_request() -> router_pb2.RouteRequest:
    return router_pb2.RouteRequest(
        messages=[router_pb2.ChatMessage(role="user", content=PROMPT)], max_output_tokens=64
    )


def policy_sources(good_source: str) -> dict[str, str]:
    """The good policy and the three bad ones the bad-push phase publishes."""
    good = yaml.safe_load(good_source)
    invalid = {**good, "name": "chaos-invalid", "retry": {**good["retry"], "max_retries": 99}}
    invalid["checks"] = [*good["checks"], {"name": "no_such_check"}]
    # Schema-valid, so the control plane stores it; a router loading it finds no artefact.
    nack = {**good, "name": "chaos-nack", "predictor": {"artefact": "chaos-missing-artefact.json"}}
    dead = {
        **good,
        "name": "chaos-dead",
        "default": {"name": "only-dead", "strategy": {"kind": "single", "model": "dead"}},
    }
    return {
        "good": good_source,
        "invalid": yaml.safe_dump(invalid, sort_keys=False),
        "nack": yaml.safe_dump(nack, sort_keys=False),
        "dead": yaml.safe_dump(dead, sort_keys=False),
    }


@dataclass(frozen=True)
class ChaosOptions:
    profile: ChaosProfile
    out_dir: Path | None = RESULTS_DIR
    work_dir: Path = WORK_DIR
    thresholds: chk.Thresholds = field(default_factory=chk.Thresholds)
    seed: int = 1
    # Sample how busy the cores are before starting (2 s), for the JSON's machine record.
    sample_machine_load: bool = True
    # The good policy (the bad ones are derived from it).
    policy_file: Path = FILES / "policy.yaml"


@dataclass(frozen=True)
class ChaosResult:
    result: dict[str, Any]
    summaries: list[summary.PhaseSummary]
    checks: list[chk.Check]
    path: Path | None

    @property
    def failed(self) -> list[chk.Check]:
        return report.failed(self.checks)


async def _router_codes(http: aiohttp.ClientSession, port: int) -> dict[str, float]:
    url = f"http://127.0.0.1:{port}/metrics"
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as reply:
        return prom.rpc_codes(await reply.text(), service="router")


def _transitions(log_path: Path, offset: int, wall_origin: float) -> list[BreakerTransition]:
    with log_path.open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    return [
        BreakerTransition(t["t_s"], str(t["model"]), str(t["from"]), str(t["to"]))
        for t in parse_breaker_transitions(text, wall_origin)
    ]


def _forget_old_runs(work_dir: Path, keep: int = 1) -> None:
    """Keep the newest `keep` runs' work dirs (a full run's logs are ~50 MB)."""
    runs = sorted(work_dir.glob("chaos-*"))
    for old in runs[: max(0, len(runs) - keep)]:
        shutil.rmtree(old, ignore_errors=True)


def _write_outcomes(path: Path, outcomes: Sequence[CallOutcome]) -> None:
    """Every call, one JSON object a line, for looking into a failed check."""
    with path.open("w") as out:
        for o in outcomes:
            out.write(json.dumps(o._asdict()) + "\n")


def judge(
    windows: Sequence[PhaseWindow],
    outcomes: Sequence[CallOutcome],
    transitions: Sequence[BreakerTransition],
    *,
    run_end_s: float,
    router_codes: dict[str, int],
    not_sent: int,
    thresholds: chk.Thresholds,
) -> tuple[list[summary.PhaseSummary], list[chk.Check]]:
    """Summaries and checks of a finished run (pure: recorded values in, verdicts out)."""
    summaries = [
        summary.summarize(
            w,
            outcomes,
            transitions=transitions,
            run_end_s=run_end_s,
            served_models=SERVED_MODELS,
        )
        for w in windows
    ]
    client_codes: dict[str, int] = {}
    for o in outcomes:
        client_codes[o.code] = client_codes.get(o.code, 0) + 1
    checks = chk.check_run(
        summaries,
        thresholds=thresholds,
        soak_phase=SOAK,
        recovery_phases=RECOVERY_PHASES,
        reconciliation=chk.Reconciliation(
            client_codes=client_codes,
            router_codes=router_codes,
            cut_by_client=sum(1 for o in outcomes if o.cut),
        ),
        not_sent=not_sent,
    )
    for w in windows:
        checks += chk.policy_checks(w, outcomes)
    return summaries, checks


async def run_chaos(options: ChaosOptions, *, log: Callable[[str], None] = print) -> ChaosResult:
    profile = options.profile
    run_id = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    _forget_old_runs(options.work_dir)
    work = options.work_dir / f"chaos-{run_id}"
    work.mkdir(parents=True, exist_ok=True)
    sources = policy_sources(options.policy_file.read_text())
    policy_file = work / "policy.yaml"
    policy_file.write_text(sources["good"])
    metrics_port = free_port_run(1)
    if options.sample_machine_load:
        machine = describe()
    else:
        machine = {**describe(busy_before_run_percent=0.0), "busy_before_run_percent": None}
    suite = Suite(
        SuiteSettings(
            state_dir=work / "suite",
            ports=SuitePorts.ephemeral(),
            fleet_file=FILES / "fleet.yaml",
            simulator_file=FILES / "simulator.yaml",
            policy_file=policy_file,
            router_metrics_ports=(metrics_port,),
        )
    )
    log(f"chaos {run_id}: profile {profile.name}, {profile.rate:g} req/s, work dir {work}")
    started = time.monotonic()
    await suite.start()
    http = aiohttp.ClientSession()
    controlplane = ControlPlane(suite.address("controlplane"))
    router = RouterProbe(suite.address("router"), chaos_request())
    windows: list[PhaseWindow] = []
    try:
        statuses, _ = await controlplane.routers()
        good_version = statuses[0].active_version if statuses else 1
        router_log = suite.services["router"].log_path
        log_offset = router_log.stat().st_size
        before = await _router_codes(http, metrics_port)
        load = await start_load(
            suite.address("router"),
            chaos_request().SerializeToString(),
            rate=profile.rate,
            processes=profile.client_processes,
            seed=options.seed,
        )
        wall_origin = time.time() - (time.monotonic() - load.start_at)
        chaos = Chaos(
            suite=suite,
            load=load,
            models=ModelServer(suite, http),
            controlplane=controlplane,
            router=router,
            profile=profile,
            policies=sources,
            good_version=good_version,
            log=log,
        )
        try:
            await asyncio.sleep(max(0.0, -load.now()))
            for phase in TIMELINE:
                window = await phase(chaos)
                windows.append(window)
        finally:
            run_end_s = load.now()
            loaded = await load.stop(timeout_s=60.0)
        # Calls still in flight at the stop have ended; the router has counted them.
        await asyncio.sleep(0.5)
        router_codes = count_delta(before, await _router_codes(http, metrics_port))
        transitions = _transitions(router_log, log_offset, wall_origin)
    finally:
        await router.close()
        await controlplane.close()
        await http.close()
        await suite.stop()
    _write_outcomes(work / "outcomes.jsonl", loaded.outcomes)
    summaries, checks = judge(
        windows,
        loaded.outcomes,
        transitions,
        run_end_s=run_end_s,
        router_codes=router_codes,
        not_sent=loaded.not_sent,
        thresholds=options.thresholds,
    )
    result = {
        "run_id": run_id,
        "duration_s": round(time.monotonic() - started, 1),
        "machine": machine,
        "machine_line": one_line(machine),
        "settings": {
            **asdict(profile),
            "profile": profile.name,
            "rate_rps": profile.rate,
            "thresholds": asdict(options.thresholds),
            "probe_interval_s": summary.ProbeSettings().interval_s,
            "policy_file": str(options.policy_file),
        },
        "phases": [s.as_dict() for s in summaries],
        "windows": [
            {
                "name": w.name,
                "start_s": round(w.start_s, 3),
                "end_s": round(w.end_s, 3),
                "fault_start_s": w.fault_start_s,
                "fault_end_s": w.fault_end_s,
            }
            for w in windows
        ],
        "checks": [c.as_dict() for c in checks],
        "passed": not report.failed(checks),
        "router_codes": router_codes,
        "not_sent": loaded.not_sent,
        "breaker_transitions": [asdict(t) for t in transitions],
        "work_dir": str(work),
    }
    path = report.write_json(result, options.out_dir) if options.out_dir else None
    return ChaosResult(result, summaries, checks, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--soak-s", type=float, help="soak length in seconds (full: 600)")
    parser.add_argument("--rate", type=float, help="requests per second")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    parser.add_argument("--seed", type=int, default=1, help="the client's cancellation draws")
    parser.add_argument(
        "--policy",
        type=Path,
        default=FILES / "policy.yaml",
        help="the good policy (a cascade over alpha and beta; the bad ones derive from it)",
    )
    parser.add_argument(
        "--readme", type=Path, metavar="RESULT_JSON", help="print a results file's tables; no run"
    )
    args = parser.parse_args(argv)
    if args.readme:
        print(report.render_file(args.readme))
        return 0
    profile = PROFILES[args.profile].adjusted(soak_s=args.soak_s, rate=args.rate)
    thresholds = SHORT_THRESHOLDS if profile.name == "short" else chk.Thresholds()
    options = ChaosOptions(
        profile=profile,
        out_dir=args.out,
        seed=args.seed,
        thresholds=thresholds,
        policy_file=args.policy,
    )
    try:
        outcome = asyncio.run(run_chaos(options))
    except Exception as exc:
        print(f"chaos: the run could not be made: {exc!r}", file=sys.stderr)
        return 2
    print()
    print(report.render(outcome.result, outcome.summaries, outcome.checks))
    if outcome.path is not None:
        print(f"\nwrote {outcome.path}")
    return 1 if outcome.failed else 0
