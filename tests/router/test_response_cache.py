"""Per-rule response caches (services/router/response_cache.py): exact match on the
normalised request and policy version, TTL, LRU size bound, stale entries kept for the
degrade path."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from services.router.plan import RouteInput
from services.router.providers.base import ChatTurn
from services.router.response_cache import CachedAnswer, ResponseCache, cache_key
from switchyard.policy import Rule, Stage, Strategy
from switchyard.policy.budgets import RuleCache
from tests.router.fakes import Clock

RULE = Rule(
    name="faq",
    strategy=Strategy(kind="single", stages=(Stage("m"),)),
    cache=RuleCache(ttl_s=10, max_entries=3),
)
UNCACHED = dataclasses.replace(RULE, name="plain", cache=None)
ANSWER = CachedAnswer("An answer.", "m", "stop")


def request(text: str = "What is a B-tree?", **kw: object) -> RouteInput:
    return RouteInput(messages=(ChatTurn("user", text),), **kw)  # type: ignore[arg-type]


def key(req: RouteInput, version: int = 1, rule: str = "faq") -> bytes:
    return cache_key(req, policy_version=version, rule=rule)


def test_a_stored_answer_is_a_hit_until_its_ttl() -> None:
    """Fresh for ttl_s seconds; then a miss (but still there for the stale degrade)."""
    clock = Clock()
    cache = ResponseCache(clock=clock)
    k = key(request())
    assert cache.fresh(RULE, k) is None
    cache.put(RULE, k, ANSWER)
    clock.now = 9.9
    hit = cache.fresh(RULE, k)
    assert hit is not None and (hit.answer, hit.model_id) == ("An answer.", "m")
    clock.now = 10.0
    assert cache.fresh(RULE, k) is None
    assert cache.stale(RULE, k) is not None


def test_least_recently_used_is_evicted_at_max_entries() -> None:
    """With room for 3, a fourth entry evicts the one used longest ago; a hit counts as
    a use."""
    cache = ResponseCache(clock=Clock())
    keys = [key(request(f"question {i}")) for i in range(4)]
    for k in keys[:3]:
        cache.put(RULE, k, ANSWER)
    assert cache.fresh(RULE, keys[0]) is not None  # 0 is now the most recent
    cache.put(RULE, keys[3], ANSWER)
    assert len(cache) == 3
    assert cache.stale(RULE, keys[1]) is None
    assert all(cache.fresh(RULE, k) is not None for k in (keys[0], keys[2], keys[3]))


def test_a_rule_without_cache_neither_stores_nor_serves() -> None:
    """Caching is opt-in per rule."""
    cache = ResponseCache(clock=Clock())
    k = key(request(), rule="plain")
    cache.put(UNCACHED, k, ANSWER)
    assert cache.fresh(UNCACHED, k) is None and len(cache) == 0


def test_a_smaller_max_entries_in_a_new_policy_version_trims_the_cache() -> None:
    """A rule whose cache shrinks drops its oldest entries at once."""
    cache = ResponseCache(clock=Clock())
    for i in range(3):
        cache.put(RULE, key(request(f"q{i}")), ANSWER)
    smaller = dataclasses.replace(RULE, cache=RuleCache(ttl_s=10, max_entries=1))
    assert cache.fresh(smaller, key(request("q2"))) is not None
    assert len(cache) == 1


def test_the_key_is_the_normalised_request_and_the_policy_version() -> None:
    """Whitespace around a message and Unicode composition do not matter; the messages,
    task type, response format, max tokens, tenant, rule and policy version do."""
    base = request("Café au lait?")
    assert key(base) == key(request("  Cafe\u0301 au lait?\n"))
    different = [
        request("Café au lait!"),
        request("Café au lait?", task_type="summarization"),
        request("Café au lait?", json_mode=True),
        request("Café au lait?", max_output_tokens=100),
        request("Café au lait?", tenant="acme"),
        RouteInput(messages=(ChatTurn("system", "Café au lait?"),)),
    ]
    assert len({key(base), *(key(r) for r in different)}) == len(different) + 1
    assert key(base, version=2) != key(base)
    assert key(base, rule="other") != key(base)


@given(st.lists(st.integers(0, 20), max_size=60))
def test_never_holds_more_than_max_entries(uses: list[int]) -> None:
    """Whatever the sequence of puts and lookups, the size bound holds and the last put
    is always a hit."""
    cache = ResponseCache(clock=Clock())
    for i in uses:
        k = key(request(f"q{i}"))
        if cache.fresh(RULE, k) is None:
            cache.put(RULE, k, ANSWER)
        assert len(cache) <= 3
        assert cache.fresh(RULE, k) is not None
