"""From the scenario list to what the run needs: checked scenarios, the bench policy
with one rule per router scenario, and the request each scenario sends."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import yaml

from bench.scenarios import (
    SCENARIO_METADATA_KEY,
    Faults,
    FixedRate,
    Scale,
    Scenario,
    Throughput,
)
from switchyard.policy import parse_policy
from switchyard.router.v1 import router_pb2
from switchyard.runtime.errors import InvalidArgument

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


class ScenarioError(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def check_scenarios(scenarios: Sequence[Scenario]) -> tuple[Scenario, ...]:
    """Every problem of the list at once: names, references, ranges."""
    problems: list[str] = []
    seen: dict[str, Scenario] = {}
    for i, s in enumerate(scenarios):
        where = f"scenarios[{i}] ({getattr(s, 'name', '?')})"
        if not isinstance(s, Throughput | FixedRate | Faults | Scale):
            problems.append(f"{where}: unknown scenario type {type(s).__name__}")
            continue
        if not _NAME.match(s.name):
            problems.append(f"{where}: name must be lowercase letters, digits and dashes")
        if s.name in seen:
            problems.append(f"{where}: name {s.name!r} is used twice")
        if isinstance(s, Throughput):
            if s.target == "echo" and s.strategy is not None:
                problems.append(f"{where}: the echo target takes no strategy")
            if s.target == "router" and not s.strategy:
                problems.append(f"{where}: a router scenario needs a strategy")
            if s.target == "echo" and s.router_args:
                problems.append(f"{where}: the echo target takes no router_args")
        if isinstance(s, FixedRate | Scale):
            ref = seen.get(s.of)
            if not (isinstance(ref, Throughput) and ref.target == "router" and not ref.router_args):
                problems.append(
                    f"{where}: `of` must name an earlier router Throughput scenario"
                    " without router_args"
                )
        if isinstance(s, FixedRate) and (
            not s.fractions or not all(0 < f <= 1 for f in s.fractions)
        ):
            problems.append(f"{where}: fractions must be in (0, 1]")
        if isinstance(s, Scale) and s.routers < 2:
            problems.append(f"{where}: routers must be at least 2")
        if isinstance(s, Faults):
            if not s.faults:
                problems.append(f"{where}: faults must name at least one model")
            if s.rate <= 0 or min(s.baseline_s, s.faulted_s, s.recovery_s) < 0:
                problems.append(f"{where}: rate and phase lengths must be positive")
        seen[s.name] = s
    if problems:
        raise ScenarioError(problems)
    return tuple(scenarios)


def select(scenarios: Sequence[Scenario], only: Collection[str]) -> tuple[Scenario, ...]:
    """The named scenarios plus those they are measured against, in list order."""
    if not only:
        return tuple(scenarios)
    names = {s.name for s in scenarios}
    unknown = sorted(set(only) - names)
    if unknown:
        raise ScenarioError([f"unknown scenario {n!r}; known: {sorted(names)}" for n in unknown])
    wanted = set(only)
    for s in reversed(scenarios):
        if s.name in wanted and isinstance(s, FixedRate | Scale):
            wanted.add(s.of)
    return tuple(s for s in scenarios if s.name in wanted)


def router_args_of(scenario: Scenario) -> tuple[str, ...]:
    """The extra router flags a scenario needs ((): the main suite)."""
    return scenario.router_args if isinstance(scenario, Throughput) else ()


def routed(scenarios: Iterable[Scenario]) -> list[Throughput | Faults]:
    """Scenarios that send requests through a policy rule of their own."""
    return [
        s
        for s in scenarios
        if isinstance(s, Faults) or (isinstance(s, Throughput) and s.target == "router")
    ]


def _task_type(scenario: Throughput | Faults) -> str:
    return scenario.task_type if isinstance(scenario, Throughput) else ""


def _rule(scenario: Throughput | Faults) -> dict[str, Any]:
    when: dict[str, Any] = {"metadata": {SCENARIO_METADATA_KEY: scenario.name}}
    if _task_type(scenario):
        when["task_types"] = [_task_type(scenario)]
    return {
        "name": f"bench-{scenario.name}",
        "when": when,
        "strategy": dict(scenario.strategy or {}),
    }


def build_policy(
    base_text: str, scenarios: Sequence[Scenario], known_models: Collection[str]
) -> tuple[str, dict[str, str]]:
    """The base policy plus one rule per router scenario, and the scenarios whose rule
    the policy parser refused (name -> its field violations), which are left out."""
    base = yaml.safe_load(base_text) or {}
    skipped: dict[str, str] = {}
    rules: list[dict[str, Any]] = []
    for scenario in routed(scenarios):
        rule = _rule(scenario)
        candidate = {**base, "rules": [*base.get("rules", []), rule]}
        try:
            parse_policy(yaml.safe_dump(candidate, sort_keys=False), known_models=known_models)
        except InvalidArgument as exc:
            skipped[scenario.name] = "; ".join(
                f"{v.field}: {v.description}" for v in exc.violations
            )
            continue
        rules.append(rule)
    document = {**base, "rules": [*base.get("rules", []), *rules]}
    text = yaml.safe_dump(document, sort_keys=False)
    parse_policy(text, known_models=known_models)  # the whole must hold too
    return text, skipped


def request_for(scenario: Throughput | Faults) -> router_pb2.RouteRequest:
    return router_pb2.RouteRequest(
        messages=[router_pb2.ChatMessage(role="user", content=scenario.prompt)],
        metadata={SCENARIO_METADATA_KEY: scenario.name},
        task_type=_task_type(scenario),
    )
