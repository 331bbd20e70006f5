"""The simulation itself, free of HTTP: a request in, a decided reply (and its delay) out.

Each model owns a seeded `random.Random`, so with a fixed seed the sequence of outcomes
a model produces is reproducible regardless of traffic to other models.
"""

from __future__ import annotations

import enum
import random
import zlib
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.simulator import answers
from services.simulator.faults import NO_FAULTS, FaultSettings
from services.simulator.models import ModelProfile


@dataclass(frozen=True, slots=True)
class ChatCall:
    """A chat request in either wire format, reduced to what the simulation needs."""

    model: str
    # (role, content) pairs; a separate Anthropic `system` prompt is the first pair.
    messages: tuple[tuple[str, str], ...]
    max_tokens: int | None = None
    json_mode: bool = False
    stop: tuple[str, ...] = ()

    def last_user_message(self) -> str:
        for role, content in reversed(self.messages):
            if role == "user":
                return content
        return self.messages[-1][1] if self.messages else ""


class ReplyKind(enum.Enum):
    ANSWER = "answer"
    ERROR = "error"
    # A 200 whose body is not a valid completion.
    MALFORMED = "malformed"


@dataclass(slots=True)
class SimulatedReply:
    kind: ReplyKind
    delay_s: float
    text: str = ""
    # "stop" | "length" (wire formats translate to their own vocabulary).
    finish_reason: str = "stop"
    stop_sequence: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    status: int = 200
    error_message: str = ""
    retry_after_s: float | None = None
    # Which malformed body to send (an index into the wire format's list).
    variant: int = 0


@dataclass(frozen=True, slots=True)
class RecordedAnswer:
    """One real model's recorded answer to a dataset prompt (replay mode)."""

    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None


class AnswerSource(Protocol):
    """Recorded answers of the loaded datasets (see replay.py). `mapping` is a model's
    `replay:` setting: dataset key -> the dataset model it stands for."""

    datasets: tuple[str, ...]

    def stands_for(self, mapping: Mapping[str, str]) -> bool: ...

    def answer_for(self, mapping: Mapping[str, str], prompt: str) -> RecordedAnswer | None: ...


RECENT_TRACEPARENTS = 64
# A valid traceparent is 55 characters; a longer header is kept only in part.
MAX_TRACEPARENT_CHARS = 128


def model_seed(seed: int, name: str) -> int:
    # crc32 rather than hash(): str hashes are salted per process.
    return (seed * 1_000_003) ^ zlib.crc32(name.encode())


@dataclass
class SimulatedModel:
    profile: ModelProfile
    rng: random.Random
    replay: AnswerSource | None = None
    faults: FaultSettings = NO_FAULTS
    counters: Counter[str] = field(default_factory=Counter)
    # The W3C traceparent headers of the latest calls, newest last (admin endpoint):
    # how a test sees that a caller's trace reached the model server.
    traceparents: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_TRACEPARENTS))

    def reset_faults(self) -> None:
        self.faults = NO_FAULTS

    def saw_traceparent(self, header: str) -> None:
        self.counters["traced"] += 1
        self.traceparents.append(header[:MAX_TRACEPARENT_CHARS])

    def snapshot(self) -> dict[str, Any]:
        """Settings, active faults and counters, for the admin endpoint."""
        return {
            "name": self.profile.name,
            "profile": self.profile.settings(),
            "faults": self.faults.as_dict(),
            "faults_active": self.faults.active,
            "counters": dict(self.counters),
            "traceparents": list(self.traceparents),
        }

    def respond(self, call: ChatCall) -> SimulatedReply:
        """Decide the whole reply for one call: outcome, text, token counts and delay."""
        profile, faults, rng, counts = self.profile, self.faults, self.rng, self.counters
        counts["requests"] += 1
        n_prompt = answers.prompt_tokens([content for _, content in call.messages])
        if profile.context_window and n_prompt > profile.context_window:
            counts["rejected"] += 1
            return SimulatedReply(
                ReplyKind.ERROR,
                0.0,
                status=400,
                error_message=(
                    f"This model's maximum context length is {profile.context_window} tokens, "
                    f"but the messages have about {n_prompt} tokens."
                ),
            )
        error_rate = profile.error_rate if faults.error_rate is None else faults.error_rate
        draw = rng.random()
        if draw < error_rate:
            counts["errors"] += 1
            status = faults.error_status or profile.error_status
            retry_after = faults.retry_after_s
            if retry_after is None:
                retry_after = profile.retry_after_s
            return SimulatedReply(
                ReplyKind.ERROR,
                self._delay(rng, 0),
                status=status,
                error_message=f"simulated upstream error ({status})",
                retry_after_s=retry_after if status == 429 else None,
            )
        draw -= error_rate
        if draw < faults.malformed_rate:
            counts["malformed"] += 1
            return SimulatedReply(
                ReplyKind.MALFORMED, self._delay(rng, 0), variant=rng.randrange(1 << 16)
            )
        draw -= faults.malformed_rate
        finish, stop_sequence, recorded_input = "stop", None, None
        if draw < faults.empty_rate:
            counts["empty"] += 1
            text, n_out = "", 0
        elif (draw := draw - faults.empty_rate) < faults.refusal_rate:
            counts["refusals"] += 1
            text = answers.REFUSAL
            n_out = answers.estimate_tokens(text)
        else:
            text, n_out, recorded_input = self._answer_text(call, rng)
            if draw - faults.refusal_rate < faults.truncated_rate:
                counts["truncated"] += 1
                text = answers.cut_to_tokens(text, max(1, n_out // 2))
                n_out, finish = answers.estimate_tokens(text), "length"
        if call.max_tokens is not None and n_out > call.max_tokens:
            counts["length_stopped"] += 1
            text = answers.cut_to_tokens(text, call.max_tokens)
            n_out, finish = call.max_tokens, "length"
        if call.stop and text:
            text, stop_sequence = _apply_stop(text, call.stop)
            if stop_sequence is not None:
                n_out, finish = answers.estimate_tokens(text), "stop"
        return SimulatedReply(
            ReplyKind.ANSWER,
            self._delay(rng, n_out),
            text=text,
            finish_reason=finish,
            stop_sequence=stop_sequence,
            prompt_tokens=recorded_input or n_prompt,
            completion_tokens=n_out,
        )

    def _answer_text(self, call: ChatCall, rng: random.Random) -> tuple[str, int, int | None]:
        """(text, output tokens, recorded input tokens): a recorded answer when replaying
        a known prompt, else a synthetic one."""
        prompt = call.last_user_message()
        replay, mapping = self.replay, self.profile.replay
        if replay is not None and replay.stands_for(mapping):
            recorded = replay.answer_for(mapping, prompt)
            if recorded is not None:
                self.counters["replayed"] += 1
                n_out = recorded.output_tokens or answers.estimate_tokens(recorded.text)
                return recorded.text, n_out, recorded.input_tokens
            # A prompt the datasets do not hold: served synthetically, and counted so a
            # benchmark can tell how much of its traffic really was replayed.
            self.counters["replay_misses"] += 1
        target = max(1, round(self.profile.answer_tokens * rng.uniform(0.75, 1.25)))
        if rng.random() < self.profile.quality:
            self.counters["acceptable"] += 1
            text = answers.acceptable_answer(
                rng, prompt, target, style=self.profile.style, json_mode=call.json_mode
            )
        else:
            self.counters["low_quality"] += 1
            text = answers.low_effort_reply(rng)
        return text, answers.estimate_tokens(text), None

    def _delay(self, rng: random.Random, output_tokens: int) -> float:
        profile, faults = self.profile, self.faults
        seconds = profile.ttft_ms / 1000.0
        if output_tokens and profile.tokens_per_second > 0:
            seconds += output_tokens / profile.tokens_per_second
        if profile.jitter and seconds:
            seconds *= rng.uniform(1.0 - profile.jitter, 1.0 + profile.jitter)
        seconds = seconds * faults.latency_multiplier + faults.added_latency_ms / 1000.0
        # Drawn only when the fault is set, so fault-free sequences stay as they were.
        if faults.delay_rate and rng.random() < faults.delay_rate:
            seconds += faults.delay_ms / 1000.0
        return seconds


def _apply_stop(text: str, stops: tuple[str, ...]) -> tuple[str, str | None]:
    """Cut at the earliest stop sequence, as a server honouring `stop` would."""
    best, matched = len(text), None
    for stop in stops:
        if stop:
            at = text.find(stop)
            if 0 <= at < best:
                best, matched = at, stop
    return text[:best], matched


class Fleet:
    """Every simulated model by name, plus the process-wide draining flag."""

    def __init__(
        self,
        profiles: dict[str, ModelProfile],
        *,
        seed: int,
        replay: AnswerSource | None = None,
    ) -> None:
        self.seed = seed
        self.replay = replay
        self.models = {
            name: SimulatedModel(profile, random.Random(model_seed(seed, name)), replay)
            for name, profile in profiles.items()
        }
        self.draining = False

    def get(self, name: str) -> SimulatedModel | None:
        return self.models.get(name)
