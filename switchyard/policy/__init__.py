"""Routing policies: the YAML format, its validation, and rule matching."""

from switchyard.policy.model import (
    BreakerPolicy,
    CheckRef,
    Conditions,
    Degrade,
    Policy,
    PredictorRef,
    RequestFacts,
    RetrySettings,
    Rule,
    ScoreWeights,
    Selector,
    Stage,
    Strategy,
)
from switchyard.policy.parse import parse_policy

__all__ = [
    "BreakerPolicy",
    "CheckRef",
    "Conditions",
    "Degrade",
    "Policy",
    "PredictorRef",
    "RequestFacts",
    "RetrySettings",
    "Rule",
    "ScoreWeights",
    "Selector",
    "Stage",
    "Strategy",
    "parse_policy",
]
