"""Task types and token estimates shared by the router, verifier and control plane."""

from __future__ import annotations

# Task types a request may name; an empty task type means "chat". Quality per task in
# the registry and policy conditions use the same names.
TASK_TYPES: frozenset[str] = frozenset(
    {
        "chat",
        "summarization",
        "extraction",
        "classification",
        "code_generation",
        "math",
        "reasoning",
    }
)
DEFAULT_TASK_TYPE = "chat"

# ~4 characters per token is the usual estimate for English text with BPE tokenizers:
# good enough for output-length checks and dataset imports. Anything that reserves or
# plans money uses the per-script estimate in `switchyard.tokens` instead.
CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN
