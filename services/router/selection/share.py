"""`strong_share`: a `score` rule's dearest model goes first on a set share of requests.

RouteLLM states a router by the share of requests it sends to the strong model, with a
threshold on the predicted gain calibrated on data. Calibrated offline, that share holds
only for traffic like the calibration data (and reads high on the predictor's own
training prompts). Here the threshold is calibrated online, per rule, on the rule's
own recent traffic: the dearest eligible model goes first when its predicted gain over
the best other model (q_dearest − max q_other) is above the (1 − share) quantile of the
gains of the rule's last `WINDOW` routed requests, so about `share` of requests go to it
whatever the traffic mix. Until a rule has `MIN_SAMPLES` gains, its weights rank as
without a share. The planner only reads a window: Route() feeds the active (or canary)
version's, Plan() feeds none, and shadow planning feeds the shadowed version's own.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Sequence

from services.router.plan import Candidate, RoutePlan
from switchyard.policy import Rule

# Every reason this module writes starts so (Plan() shows it on the dearest model).
NOTE = "strong_share"
WINDOW = 1000
MIN_SAMPLES = 20
# Policy versions whose rules keep a window; older ones are dropped first.
MAX_POLICIES = 16


class GainWindow:
    """The last `size` gains, kept in arrival order and sorted (for the quantile)."""

    def __init__(self, size: int = WINDOW) -> None:
        self.size = size
        self._arrivals: deque[float] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._arrivals)

    def record(self, gain: float) -> None:
        if len(self._arrivals) == self.size:
            oldest = self._arrivals.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, oldest)]
        self._arrivals.append(gain)
        bisect.insort(self._sorted, gain)

    def threshold(self, share: float) -> float | None:
        """The gain a request must exceed to go to the dearest model; None while warming
        up. Gains lie in -1..1, so share 0 is a threshold no gain exceeds and share 1
        one every gain does."""
        n = len(self._sorted)
        if n < MIN_SAMPLES:
            return None
        if share <= 0.0:
            return 2.0
        if share >= 1.0:
            return -2.0
        # The share of the window strictly above the threshold is at most `share`.
        index = max(0, n - 1 - int(share * n))
        return self._sorted[index]


class ShareWindows:
    """Every `strong_share` rule's window, by policy content and rule name: a new policy
    version starts afresh, and the canary's rules never mix with the active ones'."""

    def __init__(self, size: int = WINDOW) -> None:
        self.size = size
        self._windows: dict[tuple[str, str], GainWindow] = {}
        self._policies: deque[str] = deque()

    def window(self, policy_key: str, rule: str) -> GainWindow:
        key = (policy_key, rule)
        found = self._windows.get(key)
        if found is None:
            if policy_key not in self._policies:
                self._policies.append(policy_key)
                if len(self._policies) > MAX_POLICIES:
                    dropped = self._policies.popleft()
                    for stale in [k for k in self._windows if k[0] == dropped]:
                        del self._windows[stale]
            found = self._windows[key] = GainWindow(self.size)
        return found

    def reader(self, policy_key: str) -> Callable[[Rule], GainWindow]:
        """What `plan_route(gain_window=...)` takes for a version's rules."""
        return lambda rule: self.window(policy_key, rule.name)

    def feed(self, policy_key: str, plan: RoutePlan) -> None:
        """Add a routed request's gain to its rule's window (nothing for other rules)."""
        if plan.strong_gain is not None:
            self.window(policy_key, plan.rule.name).record(plan.strong_gain)

    def sizes(self) -> dict[tuple[str, str], int]:
        """Gains held per (policy key, rule), for tests and debugging."""
        return {key: len(window) for key, window in self._windows.items()}


def dearest_gain(scored: Sequence[Candidate]) -> tuple[Candidate, float] | None:
    """The dearest candidate (ties: by id) and its predicted gain over the best other."""
    if len(scored) < 2:
        return None
    dearest = max(scored, key=lambda c: (c.max_cost_micros, c.model_id))
    best_other = max(c.accept_probability for c in scored if c is not dearest)
    return dearest, dearest.accept_probability - best_other


def order(
    ranked: Sequence[Candidate], strong_share: float, window: GainWindow | None
) -> tuple[list[Candidate], float | None]:
    """`ranked` (the weights' order) with the dearest model first when its gain beats
    the window's threshold, else last; and that gain, for the window. While the window
    warms up (or without one) the weights' order stands."""
    found = dearest_gain(ranked)
    if found is None:
        return list(ranked), None
    dearest, gain = found
    threshold = window.threshold(strong_share) if window is not None else None
    if threshold is None:
        seen = len(window) if window is not None else 0
        note = (
            f"{NOTE} {strong_share:g}: warming up ({seen} of {MIN_SAMPLES} gains seen), "
            f"predicted gain {gain:+.3f}; ranked by weights"
        )
        return [c.evolve(reason=note) if c is dearest else c for c in ranked], gain
    assert window is not None  # a threshold comes from a window
    others = [c for c in ranked if c is not dearest]
    above = gain > threshold
    note = (
        f"{NOTE} {strong_share:g}: predicted gain {gain:+.3f} "
        f"{'>' if above else '<='} {threshold:+.3f}, the threshold that sends that share "
        f"of the rule's last {len(window)} requests here"
    )
    marked = dearest.evolve(reason=note)
    return ([marked, *others] if above else [*others, marked]), gain
