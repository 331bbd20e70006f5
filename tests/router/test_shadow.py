"""Shadow sampling and its spend window (services/router/shadow.py)."""

from __future__ import annotations

from services.router.shadow import HOUR_S, SpendWindow, sampled


def test_sampling_is_deterministic_and_near_its_share() -> None:
    """The same request id is in or out every time; 10 % samples about 10 % of ids."""
    ids = [f"req-{i}" for i in range(4000)]
    first = [sampled(i, 10, salt="shadow") for i in ids]
    assert first == [sampled(i, 10, salt="shadow") for i in ids]
    assert 300 < sum(first) < 500
    assert not any(sampled(i, 0, salt="shadow") for i in ids[:100])
    assert all(sampled(i, 100, salt="shadow") for i in ids[:100])


def test_spend_window_caps_an_hour_and_resets() -> None:
    """Executions stop once the hour's cap would be passed, and resume the next hour."""
    now = [0.0]
    window = SpendWindow(clock=lambda: now[0])
    assert window.allows(600, 1000)
    window.spend(600)
    assert not window.allows(600, 1000)
    assert window.allows(400, 1000)
    assert not window.allows(1, 0)
    now[0] = HOUR_S + 1
    assert window.allows(600, 1000)
