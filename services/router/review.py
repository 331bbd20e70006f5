"""Human-review tickets: where a request goes when no model's answer was acceptable.

Tickets are appended as JSON lines to a local file and fsynced before the ticket id is
returned, so an acknowledged ticket survives a crash. They hold the conversation (a
person must see it to answer), so the file lives in the router's private state dir.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ReviewTicket:
    ticket_id: str
    created_unix: float
    rule: str
    task_type: str
    tenant: str
    tier: str
    messages: list[dict[str, str]]
    attempts: int
    reason: str


class ReviewQueue:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = asyncio.Lock()

    async def file(
        self,
        *,
        rule: str,
        task_type: str,
        tenant: str,
        tier: str,
        messages: list[dict[str, str]],
        attempts: int,
        reason: str,
    ) -> str:
        ticket = ReviewTicket(
            ticket_id=f"rev-{uuid.uuid4().hex[:16]}",
            created_unix=time.time(),
            rule=rule,
            task_type=task_type,
            tenant=tenant,
            tier=tier,
            messages=messages,
            attempts=attempts,
            reason=reason,
        )
        line = (json.dumps(asdict(ticket), ensure_ascii=False) + "\n").encode()
        async with self._lock:  # one writer at a time keeps lines whole
            await asyncio.to_thread(self._append, line)
        return ticket.ticket_id

    def _append(self, line: bytes) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
