"""Shared page tokens and sizes (switchyard/runtime/paging.py)."""

from __future__ import annotations

import pytest

from switchyard.runtime.errors import InvalidArgument
from switchyard.runtime.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    decode_page_token,
    encode_page_token,
    page_size_of,
)


def test_token_round_trips_its_position_and_type() -> None:
    """A token gives back the position it was made from, as the type asked for."""
    assert decode_page_token(encode_page_token(42, "ListPolicies"), "ListPolicies", int) == 42
    assert decode_page_token(encode_page_token("r-1", "q"), "q", str) == "r-1"
    assert decode_page_token("", "q", str) is None


def test_token_from_another_query_or_garbage_is_refused() -> None:
    """Replaying a token against another RPC, or sending junk, is a page_token violation."""
    token = encode_page_token(7, "ListPolicies")
    for bad, query, kind in (
        (token, "ListRouters", int),
        ("%%%", "q", int),
        (token, "ListPolicies", str),
    ):
        with pytest.raises(InvalidArgument) as err:
            decode_page_token(bad, query, kind)
        assert err.value.violations[0].field == "page_token"


def test_page_size_rules() -> None:
    """0 is the default, the cap caps, a negative size is refused."""
    assert page_size_of(0) == DEFAULT_PAGE_SIZE
    assert page_size_of(MAX_PAGE_SIZE + 1) == MAX_PAGE_SIZE
    assert page_size_of(3) == 3
    with pytest.raises(InvalidArgument):
        page_size_of(-1)
