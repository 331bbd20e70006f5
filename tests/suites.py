"""Starting a real suite from a test's own simulator and policy documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from switchyard.suite import SuitePorts, SuiteSettings

# Every model of examples/fleet.yaml answering at once, always acceptably.
INSTANT_MODELS = """
models:
  small: {ttft_ms: 5, quality: 1.0, answer_tokens: 40}
  medium: {ttft_ms: 5, quality: 1.0, answer_tokens: 40}
  large: {ttft_ms: 5, quality: 1.0, answer_tokens: 40}
  code: {ttft_ms: 5, quality: 1.0, answer_tokens: 40}
"""


def suite_settings(state: Path, *, simulator: str, policy: str, **fields: Any) -> SuiteSettings:
    """Settings on ephemeral ports whose simulator and seed policy are these documents,
    written into `state` (the suite's state directory)."""
    (state / "simulator.yaml").write_text(simulator)
    (state / "policy.yaml").write_text(policy)
    return SuiteSettings(
        state_dir=state,
        ports=SuitePorts.ephemeral(),
        simulator_file=state / "simulator.yaml",
        policy_file=state / "policy.yaml",
        **fields,
    )
