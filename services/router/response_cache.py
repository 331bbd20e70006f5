"""Response caches for the rules that opt in (`cache: {ttl_s, max_entries}`).

An accepted answer is kept under the normalised request: its messages (roles, text in
Unicode NFC with surrounding whitespace trimmed), task type, response format and max
output tokens, plus the policy version and the rule, plus the tenant (a cache shared
across tenants would tell one, by its latency, what another had asked). Entries are
fresh for `ttl_s`; each rule holds at most `max_entries`, least recently used evicted
first. An expired entry stays until evicted: the policy's `degrade.stale_cache` may
serve it when every stage fails. In memory, per router process: processes on a host do
not share entries, and a restart starts cold.
"""

from __future__ import annotations

import hashlib
import json
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from services.router.plan import RouteInput
from services.router.spend_metrics import RESPONSE_CACHE
from switchyard.policy import Rule
from switchyard.policy.budgets import RuleCache


@dataclass(frozen=True)
class CachedAnswer:
    answer: str
    model_id: str
    finish_reason: str
    stored_at: float = 0.0


def cache_key(request: RouteInput, *, policy_version: int, rule: str) -> bytes:
    messages = [
        [turn.role, unicodedata.normalize("NFC", turn.content).strip()] for turn in request.messages
    ]
    normalised = [
        policy_version,
        rule,
        request.tenant,
        request.task_type,
        request.json_mode,
        request.max_output_tokens,
        messages,
    ]
    return hashlib.sha256(json.dumps(normalised, ensure_ascii=False).encode()).digest()


class _RuleEntries:
    def __init__(self, settings: RuleCache) -> None:
        self.settings = settings
        self.entries: OrderedDict[bytes, CachedAnswer] = OrderedDict()

    def resize(self, settings: RuleCache) -> None:
        self.settings = settings
        while len(self.entries) > settings.max_entries:
            self.entries.popitem(last=False)


class ResponseCache:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._rules: dict[str, _RuleEntries] = {}

    def _for(self, rule: Rule) -> _RuleEntries | None:
        if rule.cache is None:
            return None
        entries = self._rules.get(rule.name)
        if entries is None:
            entries = self._rules[rule.name] = _RuleEntries(rule.cache)
        elif entries.settings != rule.cache:
            entries.resize(rule.cache)  # a new policy version changed the rule's cache
        return entries

    def fresh(self, rule: Rule, key: bytes) -> CachedAnswer | None:
        """The entry if it is younger than the rule's TTL (a hit counts as a use)."""
        entries = self._for(rule)
        if entries is None:
            return None
        found = entries.entries.get(key)
        if found is None or self._clock() - found.stored_at >= entries.settings.ttl_s:
            RESPONSE_CACHE.labels("miss").inc()
            return None
        entries.entries.move_to_end(key)
        RESPONSE_CACHE.labels("hit").inc()
        return found

    def stale(self, rule: Rule, key: bytes) -> CachedAnswer | None:
        """The entry whatever its age (a degrade answer)."""
        entries = self._for(rule)
        found = entries.entries.get(key) if entries is not None else None
        if found is not None:
            RESPONSE_CACHE.labels("stale").inc()
        return found

    def put(self, rule: Rule, key: bytes, answer: CachedAnswer) -> None:
        entries = self._for(rule)
        if entries is None:
            return
        entries.entries[key] = CachedAnswer(
            answer.answer, answer.model_id, answer.finish_reason, stored_at=self._clock()
        )
        entries.entries.move_to_end(key)
        while len(entries.entries) > entries.settings.max_entries:
            entries.entries.popitem(last=False)

    def __len__(self) -> int:
        return sum(len(e.entries) for e in self._rules.values())
