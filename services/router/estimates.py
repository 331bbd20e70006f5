"""Online estimates per (model, task type), updated from every routed outcome.

- **acceptance**: did a stage end with an accepted answer from this model (after its
  retries), or did the route move on? Kept as exponentially decayed counts, so the
  estimate follows a model that gets better or worse; read as a Beta posterior whose
  prior is the request's predicted (or registry) quality worth `prior_weight` outcomes.
  With no outcomes the estimate *is* the prior; with many it is the measured rate.
- **latency**: the last `latency_window` answered attempts' latencies; p50 and p95.

With a control plane, the other routers' figures per key arrive as `EstimateFigure`s
(docs/controlplane.md, "Shared estimates") and are blended in:

- acceptance: `(w·prior + λ·A_fleet + A_own) / (w + λ·T_fleet + T_own)` where A, T are
  decayed accepted and total counts and `λ = min(1, FLEET_WEIGHT / T_fleet)`: the fleet
  is worth at most FLEET_WEIGHT outcomes, so a new router starts from the fleet's rate
  and its own recent outcomes (up to ~500 decayed) soon dominate;
- latency: own and fleet percentiles averaged by sample counts, the fleet's capped at
  FLEET_LATENCY_WEIGHT samples.

Written only from the event-loop thread; the /metrics thread reads plain numbers.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from switchyard.estimate_figures import EstimateFigure

# One outcome's weight halves after about 350 further outcomes of the same key.
DECAY = 1.0 - 1.0 / 500
PRIOR_WEIGHT = 10.0
LATENCY_WINDOW = 256
# The most outcomes (and latency samples) the fleet's figures count for in the blend.
FLEET_WEIGHT = 100.0
FLEET_LATENCY_WEIGHT = 64.0


@dataclass
class _Key:
    accepted: float = 0.0
    total: float = 0.0
    outcomes: int = 0
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    # The same window, kept sorted as it changes: every plan reads p50 and p95 of the
    # models it weighs, and re-sorting the window after each answer cost more than the
    # rest of a score plan (one insort and one delete are a memmove in C).
    _sorted: list[float] = field(default_factory=list)

    def add_latency(self, latency_ms: float) -> None:
        window = self.latencies_ms
        if len(window) == window.maxlen:
            del self._sorted[bisect_left(self._sorted, window[0])]
        window.append(latency_ms)
        insort(self._sorted, latency_ms)

    def percentile(self, p: float) -> float:
        if not self._sorted:
            return 0.0
        index = min(len(self._sorted) - 1, int(p * len(self._sorted)))
        return self._sorted[index]


@dataclass(frozen=True)
class Estimate:
    acceptance: float
    # Outcomes seen (undecayed count) and their decayed weight.
    outcomes: int
    latency_p50_ms: float
    latency_p95_ms: float


class OutcomeEstimates:
    def __init__(self, *, prior_weight: float = PRIOR_WEIGHT, decay: float = DECAY) -> None:
        self._prior_weight = prior_weight
        self._decay = decay
        self._keys: dict[tuple[str, str], _Key] = {}
        self._fleet: dict[tuple[str, str], EstimateFigure] = {}

    def adopt_fleet(self, figures: dict[tuple[str, str], EstimateFigure]) -> None:
        """The other routers' merged figures, replacing the previous ones."""
        self._fleet = dict(figures)

    def figures(self) -> dict[tuple[str, str], EstimateFigure]:
        """This router's own figures per key, for its report to the control plane."""
        out = {}
        for (model, task), key in list(self._keys.items()):
            samples = len(key.latencies_ms)
            out[(model, task)] = EstimateFigure(
                accepted_weight=key.accepted,
                total_weight=key.total,
                outcomes=key.outcomes,
                latency_p50_ms=key.percentile(0.5),
                latency_p95_ms=key.percentile(0.95),
                latency_samples=samples,
            )
        return out

    def _key(self, model_id: str, task_type: str) -> _Key:
        key = self._keys.get((model_id, task_type))
        if key is None:
            key = self._keys[(model_id, task_type)] = _Key()
        return key

    def record_stage(self, model_id: str, task_type: str, *, accepted: bool) -> None:
        """A stage that called this model ended: with its answer accepted, or not."""
        key = self._key(model_id, task_type)
        key.accepted = key.accepted * self._decay + (1.0 if accepted else 0.0)
        key.total = key.total * self._decay + 1.0
        key.outcomes += 1

    def record_latency(self, model_id: str, task_type: str, latency_ms: float) -> None:
        self._key(model_id, task_type).add_latency(latency_ms)

    def latency_percentile(self, model_id: str, task_type: str, p: float) -> float:
        """The measured latency at quantile p (0..1), ms, blended with the fleet's;
        0 before any answer here or in the fleet."""
        key = self._keys.get((model_id, task_type))
        own_n = len(key.latencies_ms) if key is not None else 0
        own = key.percentile(p) if key is not None else 0.0
        fleet = self._fleet.get((model_id, task_type))
        if fleet is None or fleet.latency_samples <= 0:
            return own
        fleet_n = min(float(fleet.latency_samples), FLEET_LATENCY_WEIGHT)
        return (own_n * own + fleet_n * fleet.latency_at(p)) / (own_n + fleet_n)

    def acceptance(self, model_id: str, task_type: str, prior: float) -> float:
        """Posterior mean of P(stage accepted) with `prior` worth prior_weight outcomes."""
        key = self._keys.get((model_id, task_type))
        fleet = self._fleet.get((model_id, task_type))
        if key is None and fleet is None:
            return prior
        w = self._prior_weight
        accepted, total = (key.accepted, key.total) if key is not None else (0.0, 0.0)
        if fleet is not None and fleet.total_weight > 0:
            share = min(1.0, FLEET_WEIGHT / fleet.total_weight)
            accepted += share * fleet.accepted_weight
            total += share * fleet.total_weight
        return (w * prior + accepted) / (w + total)

    def estimate(self, model_id: str, task_type: str, prior: float) -> Estimate:
        key = self._keys.get((model_id, task_type))
        fleet = self._fleet.get((model_id, task_type))
        if key is None and fleet is None:
            return Estimate(prior, 0, 0.0, 0.0)
        return Estimate(
            acceptance=self.acceptance(model_id, task_type, prior),
            outcomes=(key.outcomes if key else 0) + (fleet.outcomes if fleet else 0),
            latency_p50_ms=self.latency_percentile(model_id, task_type, 0.5),
            latency_p95_ms=self.latency_percentile(model_id, task_type, 0.95),
        )

    def measured(self) -> Iterator[tuple[str, str, float, int, float, float]]:
        """(model, task, measured acceptance rate, outcomes, p50, p95) per key seen."""
        for (model, task), key in list(self._keys.items()):
            rate = key.accepted / key.total if key.total else 0.0
            # A copy: the caller may be the /metrics thread, while the loop appends.
            latencies = sorted(key.latencies_ms)
            p50 = latencies[min(len(latencies) - 1, len(latencies) // 2)] if latencies else 0.0
            p95 = (
                latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else 0.0
            )
            yield model, task, rate, key.outcomes, p50, p95
