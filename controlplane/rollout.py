"""Canary selection for the control plane: the one shared pure function, re-exported.

The logic lives in `switchyard.policy.rollout` so routers use the very same code
without importing the control plane.
"""

from switchyard.policy.rollout import RolloutSplit, SupportsRollout, canary_bucket, choose_version

__all__ = ["RolloutSplit", "SupportsRollout", "canary_bucket", "choose_version"]
