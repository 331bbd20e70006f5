"""The simulation decisions, without HTTP: outcomes, text, tokens, delays."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.simulator import answers
from services.simulator.engine import ChatCall, Fleet, ReplyKind, SimulatedModel
from services.simulator.faults import FaultSettings
from services.simulator.models import ModelProfile


def model(seed: int = 7, **settings_: object) -> SimulatedModel:
    return SimulatedModel(ModelProfile(name="m", **settings_), random.Random(seed))


def call(prompt: str = "Explain how binary search trees balance", **kw: object) -> ChatCall:
    return ChatCall(model="m", messages=(("user", prompt),), **kw)


def test_same_seed_gives_same_sequence() -> None:
    """Two fleets built with one seed produce identical replies for identical traffic."""
    profiles = {"m": ModelProfile(name="m", quality=0.5, error_rate=0.2, jitter=0.5, ttft_ms=10)}
    a, b = Fleet(profiles, seed=3), Fleet(profiles, seed=3)
    replies_a = [a.models["m"].respond(call()) for _ in range(50)]
    replies_b = [b.models["m"].respond(call()) for _ in range(50)]
    assert replies_a == replies_b
    other = Fleet(profiles, seed=4)
    assert [other.models["m"].respond(call()) for _ in range(50)] != replies_a


def test_models_draw_independently() -> None:
    """Traffic to one model does not change the sequence another model produces."""
    profiles = {n: ModelProfile(name=n, quality=0.5) for n in ("a", "b")}
    quiet, busy = Fleet(profiles, seed=1), Fleet(profiles, seed=1)
    for _ in range(20):
        busy.models["b"].respond(call())
    assert [quiet.models["a"].respond(call()) for _ in range(20)] == [
        busy.models["a"].respond(call()) for _ in range(20)
    ]


def test_acceptable_answers_are_on_topic_and_long_enough() -> None:
    """quality 1.0: every answer mentions the prompt topic and passes a 20-char length check."""
    m = model(quality=1.0, answer_tokens=60)
    for _ in range(20):
        reply = m.respond(call())
        assert reply.kind is ReplyKind.ANSWER
        assert len(reply.text) >= 20
        assert "binary search trees" in reply.text
        assert reply.finish_reason == "stop"
        assert reply.completion_tokens == answers.estimate_tokens(reply.text)


def test_unacceptable_answers_are_short() -> None:
    """quality 0.0: every answer is a low-effort reply under 20 characters."""
    m = model(quality=0.0)
    texts = {m.respond(call()).text for _ in range(30)}
    assert texts <= set(answers.LOW_EFFORT_REPLIES)
    assert all(len(t) < 20 for t in texts)


def test_quality_is_a_probability() -> None:
    """About `quality` of the answers are acceptable (0.75 over 2,000 draws)."""
    m = model(quality=0.75, answer_tokens=30)
    accepted = sum(len(m.respond(call()).text) >= 20 for _ in range(2000))
    assert 1400 < accepted < 1600
    assert m.counters["acceptable"] == accepted


def test_json_mode_answers_are_json_objects() -> None:
    """With json_mode an acceptable answer parses as a JSON object naming the topic."""
    m = model(quality=1.0, style="code")
    for _ in range(10):
        parsed = json.loads(m.respond(call(json_mode=True)).text)
        assert isinstance(parsed, dict)
        assert "binary search trees" in parsed["topic"]


def test_code_style_has_code_block() -> None:
    """A code-style model's acceptable answers start with a fenced code block."""
    reply = model(quality=1.0, style="code").respond(call("Write a function to dedupe lists"))
    assert reply.text.startswith("```python\n")


def test_max_tokens_truncates_with_length() -> None:
    """An answer longer than max_tokens is cut to max_tokens with finish_reason length."""
    m = model(quality=1.0, answer_tokens=200)
    reply = m.respond(call(max_tokens=10))
    assert reply.finish_reason == "length"
    assert reply.completion_tokens == 10
    assert len(reply.text) == 10 * answers.CHARS_PER_TOKEN


def test_stop_sequence_cuts_text() -> None:
    """The answer ends before the first stop sequence, which is reported."""
    m = model(quality=1.0)
    reply = m.respond(call(stop=("search",)))
    assert "search" not in reply.text
    assert reply.stop_sequence == "search"
    assert reply.finish_reason == "stop"


def test_error_rate_one_always_errors_with_status() -> None:
    """error_rate 1.0 turns every request into an error with the profile's status."""
    m = model(error_rate=1.0, error_status=502)
    replies = [m.respond(call()) for _ in range(10)]
    assert {(r.kind, r.status) for r in replies} == {(ReplyKind.ERROR, 502)}
    assert m.counters["errors"] == 10


def test_429_carries_retry_after_only_for_429() -> None:
    """retry_after_s is attached to 429 errors and not to other statuses."""
    assert (
        model(error_rate=1.0, error_status=429, retry_after_s=2).respond(call()).retry_after_s == 2
    )
    assert (
        model(error_rate=1.0, error_status=503, retry_after_s=2).respond(call()).retry_after_s
        is None
    )


def test_context_window_rejects_long_prompts() -> None:
    """A prompt over the context window is a 400, consuming no randomness."""
    m = model(context_window=10)
    reply = m.respond(call("word " * 100))
    assert (reply.kind, reply.status) == (ReplyKind.ERROR, 400)
    assert "maximum context length" in reply.error_message


def test_delay_follows_profile() -> None:
    """Delay = ttft + tokens / tokens_per_second, within the jitter band."""
    m = model(ttft_ms=100, tokens_per_second=100, jitter=0.0, quality=1.0)
    reply = m.respond(call())
    assert reply.delay_s == pytest.approx(0.1 + reply.completion_tokens / 100)
    jittery = model(ttft_ms=100, jitter=0.5, quality=1.0)
    delays = [jittery.respond(call()).delay_s for _ in range(200)]
    assert 0.05 <= min(delays) < max(delays) <= 0.15


def test_instant_model_has_zero_delay() -> None:
    """ttft 0 and tokens_per_second 0 mean no simulated latency at all."""
    assert model(quality=1.0).respond(call()).delay_s == 0.0


def test_fault_latency_multiplier_and_added_latency() -> None:
    """Faults scale the profile latency and add a fixed amount."""
    m = model(ttft_ms=100, quality=1.0)
    m.faults = FaultSettings(latency_multiplier=3.0, added_latency_ms=50)
    assert m.respond(call()).delay_s == pytest.approx(0.35)
    m.reset_faults()
    assert m.respond(call()).delay_s == pytest.approx(0.1)


def test_delay_fault_holds_back_its_share_of_replies() -> None:
    """delay_rate is the share of replies, errors included, that come delay_ms late;
    the others keep the profile latency."""
    m = model(seed=3, ttft_ms=10, quality=1.0)
    m.faults = FaultSettings(delay_rate=0.2, delay_ms=2000, error_rate=0.1)
    replies = [m.respond(call()) for _ in range(2000)]
    late = [r for r in replies if r.delay_s == pytest.approx(2.01)]
    assert sorted({round(r.delay_s, 6) for r in replies}) == [0.01, 2.01]
    assert len(late) == pytest.approx(400, abs=60)
    assert any(r.kind is ReplyKind.ERROR for r in late)


@pytest.mark.parametrize(
    ("faults", "check"),
    [
        (FaultSettings(malformed_rate=1.0), lambda r: r.kind is ReplyKind.MALFORMED),
        (FaultSettings(empty_rate=1.0), lambda r: r.text == "" and r.completion_tokens == 0),
        (FaultSettings(refusal_rate=1.0), lambda r: r.text == answers.REFUSAL),
        (
            FaultSettings(error_rate=1.0, error_status=429, retry_after_s=1.5),
            lambda r: (r.status, r.retry_after_s) == (429, 1.5),
        ),
    ],
)
def test_each_fault_kind(faults: FaultSettings, check: object) -> None:
    """A fault with rate 1.0 shapes every reply its way."""
    m = model(quality=1.0, answer_tokens=100)
    m.faults = faults
    for _ in range(5):
        assert check(m.respond(call()))  # type: ignore[operator]


def test_truncated_fault_cuts_the_answer_in_half() -> None:
    """truncated_rate 1.0 sends the first half of the answer the model would have sent."""
    clean, faulty = model(seed=5, quality=1.0), model(seed=5, quality=1.0)
    faulty.faults = FaultSettings(truncated_rate=1.0)
    for _ in range(5):
        full, cut = clean.respond(call()), faulty.respond(call())
        assert cut.finish_reason == "length"
        assert full.text.startswith(cut.text)
        assert cut.completion_tokens == pytest.approx(full.completion_tokens / 2, abs=1)


@settings(max_examples=30, deadline=None)
@given(
    rates=st.lists(st.floats(0, 0.25), min_size=5, max_size=5),
    seed=st.integers(0, 2**31),
)
def test_fault_rates_partition_requests(rates: list[float], seed: int) -> None:
    """Every request gets exactly one outcome and the counters add up to the requests."""
    m = model(seed=seed, quality=0.5, answer_tokens=20)
    m.faults = FaultSettings(
        error_rate=rates[0],
        malformed_rate=rates[1],
        empty_rate=rates[2],
        refusal_rate=rates[3],
        truncated_rate=rates[4],
    )
    n = 200
    for _ in range(n):
        m.respond(call())
    c = m.counters
    assert c["requests"] == n
    kinds = ("errors", "malformed", "empty", "refusals", "acceptable", "low_quality")
    assert sum(c[k] for k in kinds) == n


def test_topic_skips_stopwords() -> None:
    """The topic is the first salient words of the prompt."""
    assert answers.topic_of("Can you please explain how the Raft consensus algorithm works?") == (
        "Raft consensus algorithm"
    )
    assert answers.topic_of("?? !!") == "your question"
