"""What `make bench` measures: the scenario list.

Each entry is one scenario; the runner knows what to do with each kind. A router
scenario's `strategy` is a policy strategy exactly as written in a policy file: the
runner adds a rule for it (matched by the request metadata `bench-scenario: NAME`) to
bench/policies/policy.yaml. Benchmarking a new strategy (parallel, auto, hedge, ...)
is adding a `Throughput` entry here with that strategy; a strategy the router does not
accept yet is reported as skipped, with the policy's own error, instead of failing the
run.

Models (bench/policies/simulator.yaml): `instant`, `backup`, `large` answer at once and
always acceptably; `small` answers at once but unacceptably 20 % of the time; `flaky`
and `sluggish` take 2 ms and get faults injected at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

PROMPT = "Explain how a B-tree keeps itself balanced when keys are inserted."
SCENARIO_METADATA_KEY = "bench-scenario"


@dataclass(frozen=True)
class Throughput:
    """Maximum throughput (h2load, saturating), latency at concurrency 1 and a traced
    sample (status codes, cost, escalations)."""

    name: str
    about: str
    # Policy strategy; None for the echo floor.
    strategy: Mapping[str, Any] | None = None
    target: Literal["router", "echo"] = "router"
    prompt: str = PROMPT
    # The requests' task type; when set, the scenario's rule also matches on it (a vote
    # rule must be limited to task types whose answers can be compared).
    task_type: str = ""
    # Extra router flags (they override the run's): the scenario then runs on a suite
    # of its own, started after the main one, e.g. ("--verifier-mode", "remote").
    router_args: tuple[str, ...] = ()
    # Rule settings besides the strategy, as written in a policy rule, e.g. a response
    # cache: {"cache": {"ttl_s": 3600}}.
    rule: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FixedRate:
    """Latency at fixed offered rates (fractions of `of`'s measured maximum), from the
    Python client with no coordinated omission; `floor` runs the echo at the same
    rates for comparison."""

    name: str
    about: str
    of: str
    fractions: tuple[float, ...] = (0.25, 0.5, 0.75)
    floor: bool = True


@dataclass(frozen=True)
class Faults:
    """A steady rate through `strategy`; after `baseline_s` the simulator injects
    `faults` (model -> PUT /admin/models/{model}/faults body) for `faulted_s`, then
    clears them and watches `recovery_s` more."""

    name: str
    about: str
    strategy: Mapping[str, Any]
    faults: Mapping[str, Mapping[str, Any]]
    rate: float = 200.0
    baseline_s: float = 3.0
    faulted_s: float = 8.0
    # Long enough for a breaker that re-opened (its wait doubles) to probe and close.
    recovery_s: float = 12.0
    prompt: str = PROMPT


@dataclass(frozen=True)
class Scale:
    """`of`'s maximum throughput with `routers` router processes sharing the port
    (SO_REUSEPORT) against one, back to back."""

    name: str
    about: str
    of: str
    routers: int = 2


Scenario = Throughput | FixedRate | Faults | Scale


SCENARIOS: tuple[Scenario, ...] = (
    Throughput(
        "floor",
        "bare grpc.aio unary echo server: what Python gRPC costs before any routing",
        target="echo",
    ),
    Throughput(
        "single",
        "one instant model, answer checked by the verifier (in the router)",
        strategy={"kind": "single", "model": "instant"},
    ),
    Throughput(
        "single-remote-verifier",
        "single, the verifier called as a service (gRPC) instead of in the router",
        strategy={"kind": "single", "model": "instant"},
        router_args=("--verifier-mode", "remote"),
    ),
    Throughput(
        "single-nolog",
        "single with the router's decision log off: the baseline for single-decisionlog",
        strategy={"kind": "single", "model": "instant"},
        router_args=("--decision-log", "false"),
    ),
    Throughput(
        "single-decisionlog",
        "single with the decision log on (the default), one record per request sent to"
        " the log's writer process; target: within 5 % of single-nolog",
        strategy={"kind": "single", "model": "instant"},
        router_args=("--decision-log", "true"),
    ),
    Throughput(
        "fallback",
        "instant -> backup on failure: the peers' configuration",
        strategy={"kind": "cascade", "stages": [{"model": "instant"}, {"model": "backup"}]},
    ),
    Throughput(
        "cascade",
        "small -> large; the verifier rejects ~20 % of small's answers",
        strategy={"kind": "cascade", "stages": [{"model": "small"}, {"model": "large"}]},
    ),
    Throughput(
        "parallel",
        "parallel(3): instant, backup and large at once, every answer scored, the best returned",
        strategy={"kind": "parallel", "models": ["instant", "backup", "large"]},
    ),
    Throughput(
        "vote",
        "vote(3) on classification requests: instant, backup and large; simulated answers"
        " rarely agree, so the vote usually waits for all three and the tie-break decides",
        strategy={"kind": "vote", "models": ["instant", "backup", "large"]},
        task_type="classification",
    ),
    Throughput(
        "hedge",
        "sluggish (2 ms) hedged by instant after 1 ms, capped at 10 % of requests",
        strategy={
            "kind": "hedge",
            "models": ["sluggish", "instant"],
            "delay_ms": 1,
            "cap": {"share": 0.1, "micros": 5_000_000, "window_ms": 10_000},
        },
    ),
    Throughput(
        "score",
        "score selector over instant, small, large (registry quality): picks instant",
        strategy={
            "selector": "score",
            "models": ["instant", "small", "large"],
            "weights": {"quality": 1.0, "cost": 0.5, "latency": 0.1},
        },
    ),
    Throughput(
        "auto",
        "auto selector over instant, small, large, floor 0.95: enumerates the cascades",
        strategy={
            "selector": "auto",
            "models": ["instant", "small", "large"],
            "max_depth": 2,
            "min_quality": 0.95,
        },
    ),
    Throughput(
        "cache-hit",
        "single with the rule's response cache: every request after the first is a hit"
        " (no model call, no verifier)",
        strategy={"kind": "single", "model": "instant"},
        rule={"cache": {"ttl_s": 3600, "max_entries": 1024}},
    ),
    FixedRate(
        "fixed-rate",
        "single at 25/50/75 % of its measured maximum, no coordinated omission",
        of="single",
    ),
    Faults(
        "faults",
        "flaky -> sluggish: flaky gets 30 % errors, sluggish turns 10x slower",
        strategy={"kind": "cascade", "stages": [{"model": "flaky"}, {"model": "sluggish"}]},
        faults={
            "flaky": {"error_rate": 0.3, "error_status": 503},
            "sluggish": {"latency_multiplier": 10},
        },
    ),
    Scale("scale", "single with 2 router processes sharing the port vs 1", of="single"),
)


# Scenarios a target compares (base, variants): they run round-robin on their suites,
# all kept up at once, `--pair-rounds` rounds (the order reversed every other round,
# so slow drift of the machine favours neither), and each target is the median of the
# per-round ratios: on a shared machine one window's throughput moves 10-20 % from the
# next, far more than the 5 % these targets allow.
PAIRED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("single", ("score", "auto")),
    ("single-nolog", ("single-decisionlog",)),
)
