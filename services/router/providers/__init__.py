"""Provider adapters: one completion call to one upstream model, as a typed `Completion`.

    make_provider("openai_compatible" | "simulator" | "anthropic", endpoint,
                  api_key=..., session=shared_session)

The simulator speaks the OpenAI format, so "simulator" gets the same adapter as any
OpenAI-compatible server: the router never takes a shortcut around HTTP.
"""

from __future__ import annotations

from services.router.providers.anthropic import AnthropicProvider
from services.router.providers.base import (
    RETRYABLE,
    ChatTurn,
    Completion,
    CompletionRequest,
    Outcome,
    Provider,
)
from services.router.providers.h1 import HttpPool
from services.router.providers.http import create_session
from services.router.providers.openai import OpenAICompatibleProvider

PROVIDER_KINDS = ("openai_compatible", "simulator", "anthropic")


class UnknownProviderKind(ValueError):
    """A registry profile names a provider kind no adapter speaks."""


def make_provider(
    kind: str,
    endpoint: str,
    *,
    api_key: str | None,
    session: HttpPool | None = None,
) -> Provider:
    """The adapter for `kind`; pass one shared `session` (see `create_session`) for pooling."""
    if kind in ("openai_compatible", "simulator"):
        return OpenAICompatibleProvider(endpoint, api_key=api_key, session=session)
    if kind == "anthropic":
        return AnthropicProvider(endpoint, api_key=api_key, session=session)
    raise UnknownProviderKind(
        f"unknown provider kind {kind!r}; expected one of {', '.join(PROVIDER_KINDS)}"
    )


__all__ = [
    "PROVIDER_KINDS",
    "RETRYABLE",
    "AnthropicProvider",
    "ChatTurn",
    "Completion",
    "CompletionRequest",
    "OpenAICompatibleProvider",
    "Outcome",
    "Provider",
    "UnknownProviderKind",
    "create_session",
    "make_provider",
]
