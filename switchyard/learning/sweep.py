"""Sweeps: re-run a policy with one knob moved, to draw its cost-quality curve.

A knob edits the policy *document* (the YAML mapping) and the result is parsed and
validated again by `parse_policy`, so a sweep can only produce policies the control
plane would accept, and a knob needs no code in the router.

    --sweep min_score                       the named knob, values chosen from a pilot run
    --sweep min_score=0.2,0.5,0.8           explicit values
    --sweep min_score=0:1:11                start:stop:count, both ends included
    --sweep default.min_score=0:1:11        any dotted path into the document; a rule is
    --sweep rules.cheap-first.min_score=... picked by name, or by index (rules.0....)

Named knobs (`KNOBS`), each set on every rule it applies to:

- `min_score`: the verifier's acceptance threshold of every rule that can escalate (a
  `cascade`, or a `score`/`auto` selector); values from a pilot run's scores;
- `cost_weight`: a `score` selector's `weights.cost` (rules ranking by weights); 0, then
  log-spaced weights from 0.005 to 5;
- `quality_floor`: an `auto` selector's `min_quality`; values from a pilot run at 1 (every
  cascade weighed): quantiles of the cascades' expected qualities;
- `escalate_gain`: the margin by which the next stage's predicted quality must beat an
  answer's score to escalate it (cascades and `auto` rules, -1..1); values from a pilot
  run that scores and escalates every stage but the last;
- `strong_share`: the share of a `score` rule's requests its dearest model takes first
  (the rule needs the policy's predictor); evenly spaced from 0 to 1.

Another knob is one `RuleFieldKnob` in `KNOBS`: the field's path in a rule and which
strategy kinds and selectors it applies to.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import yaml

from switchyard.learning.inprocess_router import RoutedRequest
from switchyard.policy import Policy, parse_policy
from switchyard.runtime.errors import InvalidArgument

DEFAULT_POINTS = 24


class SweepError(ValueError):
    """A sweep spec that cannot be applied, with what to change."""


class Knob(Protocol):
    name: str

    def apply(self, document: dict[str, Any], value: float) -> dict[str, Any]:
        """A copy of the policy document with the knob set to `value`."""
        ...

    def pilot_value(self) -> float | None:
        """A value for one pilot run whose decisions suggest the grid, or None."""
        ...

    def grid(self, pilot: Sequence[RoutedRequest], points: int) -> list[float]:
        """Values to sweep, from the pilot run's routes."""
        ...


def _rules(document: dict[str, Any]) -> list[dict[str, Any]]:
    rules = [r for r in document.get("rules") or [] if isinstance(r, dict)]
    default = document.get("default")
    return [*rules, default] if isinstance(default, dict) else rules


def _set(node: dict[str, Any], path: Sequence[str], value: float) -> None:
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value


def _spread(values: Collection[float], points: int) -> set[float]:
    """`points` evenly spaced order statistics of the distinct `values` (at most that
    many: neighbours may coincide)."""
    ordered = sorted(set(values))
    return {ordered[round(i * (len(ordered) - 1) / max(1, points - 1))] for i in range(points)}


def score_quantiles(pilot: Sequence[RoutedRequest], points: int) -> list[float]:
    """Thresholds at evenly spaced quantiles of the verifier scores that models before
    the last of their chain got in the pilot, plus 0 (no scorer) and 1 (escalate nearly
    all)."""
    scores = {
        c.score
        for r in pilot
        for c in r.calls
        if c.verified and r.planned and c.model_id != r.planned[-1]
    }
    if not scores:
        return [0.0, 1.0]
    return sorted({0.0, 1.0, *(round(s, 6) for s in _spread(scores, points))})


def gain_quantiles(pilot: Sequence[RoutedRequest], points: int) -> list[float]:
    """Margins at evenly spaced quantiles of the pilot's gaps (the next planned stage's
    predicted quality minus a stage's verifier score), plus -1 (escalate every scored
    answer) and 1 (escalate none)."""
    gaps = {
        r.planned_quality[i + 1] - c.score
        for r in pilot
        for c in r.calls
        if c.verified and c.model_id in r.planned[:-1]
        for i in [r.planned.index(c.model_id)]
        if i + 1 < len(r.planned_quality)
    }
    if not gaps:
        return [-1.0, 1.0]
    picked = _spread(gaps, points)
    return sorted({-1.0, 1.0, *(round(max(-1.0, min(1.0, g)), 6) for g in picked)})


# The cost weights worth telling apart: c̃ is a candidate's cost over the dearest's
# (0..1), so a weight w takes the dearest model only where it is predicted better by
# about w in quality; quality gaps are mostly under 0.5, hence a log grid, densest there.
COST_WEIGHT_GRID = (0.005, 5.0)


def cost_weights(pilot: Sequence[RoutedRequest], points: int) -> list[float]:
    """0 (quality only), then log-spaced weights across COST_WEIGHT_GRID."""
    low, high = COST_WEIGHT_GRID
    steps = max(1, points - 2)
    return [0.0, *(round(low * (high / low) ** (i / steps), 6) for i in range(steps + 1))]


def floor_quantiles(pilot: Sequence[RoutedRequest], points: int) -> list[float]:
    """Floors at evenly spaced quantiles of the expected qualities of the cascades the
    pilot's auto plans weighed (a floor changes a choice only where it crosses one),
    each just at it so that the cascade qualifies, plus 0 and 1; evenly spaced 0..1
    when the pilot weighed none."""
    values = {q for r in pilot for q in r.option_quality}
    if not values:
        return [i / (points - 1) for i in range(points)]
    # Rounded down: a floor equal to an option's quality admits it (>=).
    return sorted({0.0, 1.0, *(math.floor(q * 1e6) / 1e6 for q in _spread(values, points))})


def _strategy(rule: dict[str, Any]) -> dict[str, Any]:
    strategy = rule.get("strategy")
    return strategy if isinstance(strategy, dict) else {}


@dataclass(frozen=True)
class RuleFieldKnob:
    """Sets one field on every rule whose strategy kind is in `kinds` or whose selector
    is in `selectors` (and that has none of `unless`, fields the knob cannot mix with)."""

    name: str
    path: tuple[str, ...]
    kinds: frozenset[str] = frozenset()
    selectors: frozenset[str] = frozenset()
    unless: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 1.0
    pilot: float | None = None
    default_grid: Callable[[Sequence[RoutedRequest], int], list[float]] | None = None

    def applies_to(self, rule: dict[str, Any]) -> bool:
        strategy = _strategy(rule)
        selector = strategy.get("selector", "static")
        if any(field in strategy for field in self.unless):
            return False
        if selector != "static":
            return selector in self.selectors
        return strategy.get("kind", "single") in self.kinds

    def apply(self, document: dict[str, Any], value: float) -> dict[str, Any]:
        if not self.low <= value <= self.high:
            raise SweepError(f"{self.name}={value}: outside {self.low:g}..{self.high:g}")
        out = copy.deepcopy(document)
        matched = [rule for rule in _rules(out) if self.applies_to(rule)]
        if not matched:
            what = [f"strategy kind {k}" for k in sorted(self.kinds)]
            what += [f"selector {s}" for s in sorted(self.selectors)]
            raise SweepError(
                f"knob {self.name!r} applies to rules with {' or '.join(what)}, "
                "and the policy has none"
            )
        for rule in matched:
            _set(rule, self.path, value)
        return out

    def pilot_value(self) -> float | None:
        return self.pilot

    def grid(self, pilot: Sequence[RoutedRequest], points: int) -> list[float]:
        if self.default_grid is None:
            return [self.low + (self.high - self.low) * i / (points - 1) for i in range(points)]
        return self.default_grid(pilot, points)


@dataclass(frozen=True)
class PathKnob:
    """Any dotted path into the document: `default.min_score`, `rules.NAME.min_score`."""

    name: str

    def apply(self, document: dict[str, Any], value: float) -> dict[str, Any]:
        out = copy.deepcopy(document)
        head, *rest = self.name.split(".")
        if head == "rules" and rest:
            selector, *rest = rest
            rules = out.get("rules") or []
            found = [
                r
                for i, r in enumerate(rules)
                if isinstance(r, dict) and (r.get("name") == selector or str(i) == selector)
            ]
            if not found:
                raise SweepError(f"{self.name}: no rule named {selector!r} (or at that index)")
            node, path = found[0], rest
        else:
            node, path = out, [head, *rest]
        if not path:
            raise SweepError(f"{self.name}: names a rule, not a field in it")
        _set(node, path, value)
        return out

    def pilot_value(self) -> float | None:
        return None

    def grid(self, pilot: Sequence[RoutedRequest], points: int) -> list[float]:
        raise SweepError(f"--sweep {self.name}: give values (=a,b,c or =start:stop:count)")


KNOBS: dict[str, Knob] = {
    "min_score": RuleFieldKnob(
        "min_score",
        ("min_score",),
        kinds=frozenset({"cascade"}),
        selectors=frozenset({"score", "auto"}),
        # Scorer on, accepting nearly everything: the pilot learns the score spread.
        pilot=1e-6,
        default_grid=score_quantiles,
    ),
    "cost_weight": RuleFieldKnob(
        "cost_weight",
        ("strategy", "weights", "cost"),
        selectors=frozenset({"score"}),
        unless=("min_quality",),  # a score rule with a quality floor ignores weights
        low=0.0,
        high=5.0,
        default_grid=cost_weights,
    ),
    "quality_floor": RuleFieldKnob(
        "quality_floor",
        ("strategy", "min_quality"),
        selectors=frozenset({"auto"}),
        low=0.0,
        high=1.0,
        # 1: nothing qualifies, so the search prunes nothing and weighs every cascade.
        pilot=1.0,
        default_grid=floor_quantiles,
    ),
    "escalate_gain": RuleFieldKnob(
        "escalate_gain",
        ("escalate_gain",),
        kinds=frozenset({"cascade"}),
        selectors=frozenset({"auto"}),
        low=-1.0,
        high=1.0,
        # -1: every stage before the last is scored and escalated, so the pilot sees
        # each one's score beside the next stage's predicted quality.
        pilot=-1.0,
        default_grid=gain_quantiles,
    ),
    "strong_share": RuleFieldKnob(
        "strong_share",
        ("strategy", "strong_share"),
        selectors=frozenset({"score"}),
        unless=("min_quality",),  # the two are exclusive
        low=0.0,
        high=1.0,
    ),
}


@dataclass(frozen=True)
class SweepSpec:
    knob: Knob
    values: tuple[float, ...] | None  # None: from the knob's grid after a pilot run

    @property
    def name(self) -> str:
        return self.knob.name


def _values(text: str, spec: str) -> tuple[float, ...]:
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            n = int(count)
            if n < 2:
                raise SweepError(f"--sweep {spec}: count must be at least 2")
            a, b = float(start), float(stop)
            return tuple(a + (b - a) * i / (n - 1) for i in range(n))
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise SweepError(f"--sweep {spec}: values must be numbers ({exc})") from exc
    if not values:
        raise SweepError(f"--sweep {spec}: no values")
    return values


def parse_sweep(spec: str) -> SweepSpec:
    name, sep, values = spec.partition("=")
    name = name.strip()
    if not name:
        raise SweepError("--sweep needs a knob name or a dotted path")
    knob = KNOBS.get(name) or PathKnob(name)
    if isinstance(knob, PathKnob) and "." not in name:
        raise SweepError(
            f"--sweep {name}: unknown knob (named knobs: {', '.join(KNOBS)}; "
            "or give a dotted path into the policy such as default.min_score)"
        )
    return SweepSpec(knob, _values(values, spec) if sep else None)


def load_policy_document(source: str) -> dict[str, Any]:
    document = yaml.safe_load(source)
    if not isinstance(document, dict):
        raise SweepError("the policy document is not a mapping")
    return document


def policy_at(
    document: dict[str, Any], knob: Knob, value: float, *, known_models: Collection[str]
) -> Policy:
    """The policy with the knob at `value`, validated as publishing would."""
    edited = knob.apply(document, value)
    try:
        return parse_policy(yaml.safe_dump(edited, sort_keys=False), known_models=known_models)
    except InvalidArgument as exc:
        problems = "; ".join(f"{v.field}: {v.description}" for v in exc.violations)
        raise SweepError(f"{knob.name}={value:g} makes an invalid policy: {problems}") from exc
