"""Planning: which models may serve a request, in what order, at what expected price.

Pure functions over the policy, the fleet copy, breaker states and quality estimates:
Plan() shows the result as is, Route() executes it. The plan's values live in
`services.router.plan`, the selectors (static, score, auto) in `services.router.selection`;
this module is the one import for both.
"""

from services.router.plan import (
    DEFAULT_ACCEPT_PROBABILITY,
    DEFAULT_LATENCY_MS,
    Candidate,
    CascadeOption,
    DropReason,
    RouteInput,
    RoutePlan,
    output_tokens_for,
)
from services.router.selection import BoundPredictor, plan_route

__all__ = [
    "DEFAULT_ACCEPT_PROBABILITY",
    "DEFAULT_LATENCY_MS",
    "BoundPredictor",
    "Candidate",
    "CascadeOption",
    "DropReason",
    "RouteInput",
    "RoutePlan",
    "output_tokens_for",
    "plan_route",
]
