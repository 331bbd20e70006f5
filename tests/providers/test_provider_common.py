"""Shared provider pieces: Retry-After parsing, status mapping, the factory."""

from __future__ import annotations

import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.router.providers import (
    AnthropicProvider,
    OpenAICompatibleProvider,
    Outcome,
    UnknownProviderKind,
    make_provider,
)
from services.router.providers.http import outcome_for_status, parse_retry_after


@given(st.integers(0, 10**6))
def test_retry_after_seconds(seconds: int) -> None:
    """An integer Retry-After is that many seconds."""
    assert parse_retry_after({"Retry-After": str(seconds)}) == seconds


def test_retry_after_http_date() -> None:
    """An HTTP-date Retry-After is the time from now until then (never negative)."""
    now = 1_800_000_000.0
    later = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"Retry-After": later}, now=now) == pytest.approx(30)
    earlier = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"Retry-After": earlier}, now=now) == 0.0


def test_retry_after_ms_wins_and_garbage_is_none() -> None:
    """retry-after-ms is preferred; unreadable or negative values give None."""
    assert parse_retry_after({"retry-after-ms": "1500", "Retry-After": "2"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "x", "Retry-After": "2"}) == 2
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({"Retry-After": "-3"}) is None
    assert parse_retry_after({}) is None


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (429, Outcome.RATE_LIMITED),
        (408, Outcome.TIMEOUT),
        (500, Outcome.SERVER_ERROR),
        (503, Outcome.SERVER_ERROR),
        (529, Outcome.SERVER_ERROR),
        (400, Outcome.CLIENT_ERROR),
        (404, Outcome.CLIENT_ERROR),
        (422, Outcome.CLIENT_ERROR),
    ],
)
def test_status_mapping(status: int, outcome: Outcome) -> None:
    """HTTP statuses map to the contract's outcomes."""
    assert outcome_for_status(status) is outcome


def test_factory_kinds() -> None:
    """openai_compatible and simulator share the OpenAI adapter; anthropic has its own."""
    for kind in ("openai_compatible", "simulator"):
        assert isinstance(
            make_provider(kind, "http://x/v1", api_key=None), OpenAICompatibleProvider
        )
    assert isinstance(make_provider("anthropic", "http://x/v1", api_key="k"), AnthropicProvider)
    with pytest.raises(UnknownProviderKind, match="bedrock"):
        make_provider("bedrock", "http://x/v1", api_key=None)
