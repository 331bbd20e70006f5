"""Which canary cohort a request belongs to: the sticky key hashed by `choose_version`.

A key must keep one caller's requests together (so a user does not flip between
policy versions mid-conversation) and must spread unrelated callers over the buckets.
The first message is a bad key: every request sharing a system prompt hashes alike, so
a 10 % canary could get none of them. In order of preference:

1. the tenant (from its token when tokens are on): one tenant, one version;
2. the idempotency key: a retried request lands on the version it first ran on;
3. `metadata["session_id"]`: the client's conversation, as it names it;
4. the request id (`x-request-id`, else the random id the server bound for this RPC):
   no stickiness, but an honest split.

Each source is prefixed so a tenant and a session with the same text are different keys.
"""

from __future__ import annotations

from services.router.plan import RouteInput

SESSION_METADATA_KEY = "session_id"


def sticky_key(request: RouteInput, *, request_id: str) -> str:
    if request.tenant:
        return f"tenant:{request.tenant}"
    if request.idempotency_key:
        return f"idempotency:{request.idempotency_key}"
    session = request.metadata.get(SESSION_METADATA_KEY, "")
    if session:
        return f"session:{session}"
    return f"request:{request_id}"
