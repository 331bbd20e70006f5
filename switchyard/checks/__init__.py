"""Acceptability checks for candidate answers: pure Python, no gRPC.

Imported by the verifier service and, for the latency-critical path, embedded in
the router process. Typical use::

    compiled = compile_specs(
        [CheckSpec("non_empty"), CheckSpec("length", {"max_chars": 2000})],
        scorer=default_scorer(),  # optional: only needed for min_score > 0
    )
    verification = compiled.verify(
        prompt=p, task_type="math", output=o, finish_reason="stop", min_score=0.5
    )
"""

# Importing the check modules registers their checks.
from switchyard.checks import basic as _basic  # noqa: F401
from switchyard.checks import content as _content  # noqa: F401
from switchyard.checks import structure as _structure  # noqa: F401
from switchyard.checks.engine import (
    MAX_OUTPUT_CHARS,
    QUALITY_CHECK,
    SIZE_LIMIT_CHECK,
    CompiledChecks,
    QualityScorer,
    compile_specs,
    validate_specs,
    verify,
)
from switchyard.checks.model import ACCEPT, REJECT, CheckResult, CheckSpec, Verification
from switchyard.checks.registry import CHECKS, CheckDefinition, Param
from switchyard.checks.scorer import (
    ArtifactError,
    LogisticQualityScorer,
    default_scorer,
    load_scorer,
)

__all__ = [
    "ACCEPT",
    "CHECKS",
    "MAX_OUTPUT_CHARS",
    "QUALITY_CHECK",
    "REJECT",
    "SIZE_LIMIT_CHECK",
    "ArtifactError",
    "CheckDefinition",
    "CheckResult",
    "CheckSpec",
    "CompiledChecks",
    "LogisticQualityScorer",
    "Param",
    "QualityScorer",
    "Verification",
    "compile_specs",
    "default_scorer",
    "load_scorer",
    "validate_specs",
    "verify",
]
