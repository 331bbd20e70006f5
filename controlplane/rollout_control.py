"""Guarded canaries, stepwise promotion and shadow versions, over the router reports.

Routers report cumulative counters per version; every report and every tick of the
promotion loop asks the guard about the canary, and a canary that breaks a threshold
over the minimum sample is removed in one transaction with the reason in the rollout
history. Promotion moves the canary through its steps only while the guard finds it
healthy; the last step makes it the active version.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog
from prometheus_client import Counter

from controlplane import rollout_store
from controlplane.guard import CanaryGuard, Verdict, VersionCounts, p95_ms
from controlplane.model import ConfigState, ShadowSplit, now_us
from controlplane.rollout_store import PromotionRecord
from controlplane.store import PolicyStore
from switchyard.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from switchyard.runtime.sqlite import SqliteDatabase

log = structlog.get_logger(__name__)

GUARD_AUTHOR = "guard"
DEFAULT_STEPS = (25.0, 50.0, 100.0)
DEFAULT_STEP_INTERVAL_S = 60.0
MAX_STEP_INTERVAL_S = 86_400.0
MAX_STEPS = 20
EVENTS_SHOWN = 20
MAX_BOOT_ID_CHARS = 64

REPORTS_IGNORED = Counter(
    "switchyard_controlplane_reports_ignored_total",
    "Router reports ignored, by reason (unknown_router, bad_report).",
    ["reason"],
)
CANARY_ROLLBACKS = Counter(
    "switchyard_controlplane_canary_rollbacks_total",
    "Canaries the guard rolled back automatically.",
)


@dataclass(frozen=True)
class RouterReport:
    router_id: str
    boot_id: str
    versions: dict[int, VersionCounts]
    # (shadow version, active version) -> counters (names as in ShadowStats).
    shadows: dict[tuple[int, int], dict[str, object]]


@dataclass(frozen=True)
class VersionStatus:
    version: int
    role: str
    counts: VersionCounts
    share: float
    routers: int


@dataclass(frozen=True)
class RolloutStatus:
    state: ConfigState
    versions: list[VersionStatus]
    shadow: dict[str, object] | None
    promotion: PromotionRecord | None
    waiting_for: str
    events: list
    guard_verdict: str


def check_steps(steps: Sequence[float], current: float) -> tuple[float, ...]:
    chosen = tuple(steps) or tuple(s for s in DEFAULT_STEPS if s > current) or (100.0,)
    problems = []
    if len(chosen) > MAX_STEPS:
        problems.append(FieldViolation("steps", f"at most {MAX_STEPS} steps"))
    last = current
    for i, step in enumerate(chosen):
        if not (math.isfinite(step) and last < step <= 100):
            problems.append(
                FieldViolation(f"steps[{i}]", f"must rise above {last:g} and be at most 100")
            )
            break
        last = step
    if not problems and chosen[-1] != 100:
        problems.append(FieldViolation(f"steps[{len(chosen) - 1}]", "the last step must be 100"))
    if problems:
        raise InvalidArgument(problems)
    return chosen


def check_shadow(shadow: ShadowSplit, active_version: int, canary_version: int) -> None:
    problems = []
    if shadow.version < 0:
        problems.append(FieldViolation("shadow.version", "must be 0 (none) or a version"))
    if shadow.version:
        if shadow.version in (active_version, canary_version):
            problems.append(
                FieldViolation("shadow.version", "already serves traffic (active or canary)")
            )
        if not (math.isfinite(shadow.percent) and 0 < shadow.percent <= 100):
            problems.append(FieldViolation("shadow.percent", "must be in (0, 100]"))
        if not (math.isfinite(shadow.execute_percent) and 0 <= shadow.execute_percent <= 100):
            problems.append(FieldViolation("shadow.execute_percent", "must be in [0, 100]"))
        if shadow.max_spend_micros_per_hour < 0:
            problems.append(
                FieldViolation("shadow.max_spend_micros_per_hour", "must not be negative")
            )
    if problems:
        raise InvalidArgument(problems)


class RolloutControl:
    def __init__(
        self,
        db: SqliteDatabase,
        store: PolicyStore,
        *,
        push: Callable[[ConfigState | None], None],
        known_router: Callable[[str], Awaitable[bool]],
    ) -> None:
        self._db = db
        self._store = store
        self._push = push
        self._known_router = known_router
        self._lock = asyncio.Lock()  # one guard decision at a time

    # --- reports and the guard ---------------------------------------------------------

    async def report(self, report: RouterReport) -> bool:
        """Record one router's counters, then let the guard judge; True if it rolled back."""
        if not report.boot_id or len(report.boot_id) > MAX_BOOT_ID_CHARS:
            REPORTS_IGNORED.labels("bad_report").inc()
            raise InvalidArgument(
                [FieldViolation("boot_id", f"required, at most {MAX_BOOT_ID_CHARS} characters")]
            )
        if not await self._known_router(report.router_id):
            # Only routers that opened a config stream report; anything else is ignored.
            REPORTS_IGNORED.labels("unknown_router").inc()
            log.warning("report.unknown_router", router_id=report.router_id[:128])
            return False
        at = now_us()
        async with self._db.begin() as db:
            for version, counts in report.versions.items():
                await rollout_store.write_version_counts(
                    db, report.router_id, report.boot_id, version, counts, at
                )
            for (shadow, active), counts in report.shadows.items():
                await rollout_store.write_shadow_counts(
                    db, report.router_id, report.boot_id, shadow, active, counts, at
                )
        return await self.judge_canary()

    async def _canary_verdict(self, db: rollout_store.Transaction) -> tuple[int, Verdict | None]:
        _, split = await self._store.rollout_in(db)
        extras = await rollout_store.read_extras(db)
        if not split.canary_version or extras.guard is None:
            return split.canary_version, None
        counts, _ = await rollout_store.version_totals(
            db, split.canary_version, since_us=extras.canary_start_us
        )
        return split.canary_version, extras.guard.verdict(counts)

    async def judge_canary(self) -> bool:
        """Roll the canary back when it breaks its guard over the minimum sample."""
        async with self._lock:
            async with self._db.begin() as db:
                canary, verdict = await self._canary_verdict(db)
            if verdict is None or verdict.healthy or not verdict.judged:
                return False
            detail = f"guard rolled back canary {canary}: {verdict.reason}"
            _, state = await self._store.set_canary(
                0, 0.0, author=GUARD_AUTHOR, action="canary_rolled_back", detail=detail
            )
        CANARY_ROLLBACKS.inc()
        log.warning("canary.rolled_back", canary_version=canary, reason=verdict.reason)
        self._push(state)
        return True

    # --- promotion -----------------------------------------------------------------------

    async def promote(
        self, *, steps: Sequence[float], step_interval_s: float, author: str
    ) -> PromotionRecord:
        interval = step_interval_s or DEFAULT_STEP_INTERVAL_S
        if not (math.isfinite(interval) and 0.1 <= interval <= MAX_STEP_INTERVAL_S):
            raise InvalidArgument(
                [FieldViolation("step_interval_s", f"must be in [0.1, {MAX_STEP_INTERVAL_S:g}]")]
            )
        async with self._lock:
            async with self._db.begin() as db:
                _, split = await self._store.rollout_in(db)
                if not split.canary_version:
                    raise FailedPrecondition("no canary to promote; start one with SetRollout")
                promotion = PromotionRecord(
                    canary_version=split.canary_version,
                    steps=check_steps(steps, split.canary_percent),
                    next_step=0,
                    next_step_us=now_us() + int(interval * 1e6),
                    step_interval_s=interval,
                    author=author,
                )
                await rollout_store.write_promotion(db, promotion)
        log.info("canary.promotion_started", canary_version=promotion.canary_version)
        return promotion

    async def advance(self) -> str:
        """One tick: judge the canary, then take the promotion's next step when due.

        Returns why the promotion waits ("" when it moved or there is none)."""
        if await self.judge_canary():
            return ""
        async with self._lock:
            async with self._db.begin() as db:
                promotion = await rollout_store.read_promotion(db)
                if promotion is None:
                    return ""
                canary, verdict = await self._canary_verdict(db)
                if canary != promotion.canary_version:
                    await rollout_store.write_promotion(db, None)
                    return ""
                if now_us() < promotion.next_step_us:
                    return "the next step's time"
                if verdict is not None and not verdict.healthy:
                    return f"the guard: {verdict.reason}"
            percent = promotion.steps[promotion.next_step]
            if percent >= 100:
                _, state = await self._store.activate(
                    canary, author=promotion.author, action="promote"
                )
            else:
                async with self._db.begin() as db:
                    extras = await rollout_store.read_extras(db)
                _, state = await self._store.set_canary(
                    canary,
                    percent,
                    author=promotion.author,
                    guard=extras.guard,
                    action="promote_step",
                    detail=f"canary {canary} to {percent:g}% (step {promotion.next_step + 1}"
                    f" of {len(promotion.steps)})",
                )
                async with self._db.begin() as db:
                    await rollout_store.write_promotion(
                        db,
                        PromotionRecord(
                            canary_version=canary,
                            steps=promotion.steps,
                            next_step=promotion.next_step + 1,
                            next_step_us=now_us() + int(promotion.step_interval_s * 1e6),
                            step_interval_s=promotion.step_interval_s,
                            author=promotion.author,
                        ),
                    )
        log.info("canary.promotion_step", canary_version=canary, percent=percent)
        self._push(state)
        return ""

    async def run(self, *, interval_s: float = 0.25) -> None:
        """The promotion loop: forever, until cancelled; a failed tick is logged, not fatal."""
        while True:
            # Not shielded: each step is one transaction (rolled back if cancelled) and
            # a change committed but not pushed is pushed by the next writer or restart.
            try:
                await self.advance()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("rollout.tick_failed", error=repr(exc))
            await asyncio.sleep(interval_s)

    # --- shadow ----------------------------------------------------------------------------

    async def set_shadow(self, shadow: ShadowSplit, *, author: str) -> ConfigState:
        async with self._lock:
            async with self._db.begin() as db:
                _, split = await self._store.rollout_in(db)
                check_shadow(shadow, split.active_version, split.canary_version)
                if shadow.version and await self._store.version_in(db, shadow.version) is None:
                    raise NotFound(f"policy version {shadow.version} does not exist")
                if not split.active_version:
                    raise FailedPrecondition("no policy is active yet; publish one first")
                wanted = shadow if shadow.version else ShadowSplit()
                if wanted == (await rollout_store.read_extras(db)).shadow:
                    return await self._store.state_in(db)
                await rollout_store.write_shadow(db, wanted)
                await self._store.bump_in(
                    db,
                    action="shadow" if wanted.version else "shadow_cleared",
                    detail=f"shadow {wanted.version} on {wanted.percent:g}%, executing"
                    f" {wanted.execute_percent:g}% within {wanted.max_spend_micros_per_hour}"
                    " micros/h",
                    author=author,
                    at=now_us(),
                    split=split,
                )
                state = await self._store.state_in(db)
        self._push(state)
        return state

    # --- status ----------------------------------------------------------------------------

    async def status(self) -> RolloutStatus:
        async with self._db.begin() as db:
            state = await self._store.state_in(db)
            extras = await rollout_store.read_extras(db)
            split = state.rollout
            since = extras.canary_start_us if split.canary_version else 0
            roles = [(split.active_version, "active")]
            if split.canary_version:
                roles.append((split.canary_version, "canary"))
            totals = []
            for version, role in roles:
                if version:
                    counts, routers = await rollout_store.version_totals(
                        db, version, since_us=since
                    )
                    totals.append((version, role, counts, routers))
            shadow = None
            if state.shadow.version:
                shadow = await rollout_store.shadow_totals(
                    db, state.shadow.version, split.active_version
                )
            promotion = await rollout_store.read_promotion(db)
            _, verdict = await self._canary_verdict(db)
            events = await rollout_store.history(db, limit=EVENTS_SHOWN)
        all_requests = sum(c.requests for _, _, c, _ in totals)
        versions = [
            VersionStatus(v, role, c, c.requests / all_requests if all_requests else 0.0, r)
            for v, role, c, r in totals
        ]
        waiting = ""
        if promotion is not None:
            waiting = (
                f"the guard: {verdict.reason}"
                if verdict is not None and not verdict.healthy
                else "the next step's time"
            )
        return RolloutStatus(
            state=state,
            versions=versions,
            shadow=shadow,
            promotion=promotion,
            waiting_for=waiting,
            events=events,
            guard_verdict=verdict.reason if verdict is not None else "",
        )


def shadow_p95(buckets: object) -> float:
    return p95_ms(tuple(buckets)) if isinstance(buckets, list) else 0.0


__all__ = ["CanaryGuard", "RolloutControl", "RouterReport", "shadow_p95"]
