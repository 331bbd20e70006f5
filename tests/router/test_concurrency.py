"""The adaptive concurrency limit and tier shares (services/router/concurrency.py): exact
steps of the Gradient2-style update, its windows, and hypothesis properties (the limit
stays in [min, max]; latency growth and drops lower it; a lower tier is shed first)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.concurrency import (
    Completion,
    ConcurrencyLimiter,
    GradientLimit,
    LimitSettings,
    TierShares,
)

SETTINGS = LimitSettings(initial_limit=100, min_limit=10, max_limit=400, window_s=1.0)


def warmed(limit: float = 100.0, rtt_s: float = 0.1, s: LimitSettings = SETTINGS) -> GradientLimit:
    """A limit whose long-term latency is `rtt_s`, estimate `limit` (idle windows on the way)."""
    g = GradientLimit(s)
    for _ in range(20):
        g.on_window(mean_rtt_s=rtt_s, peak_in_flight=0, dropped=False)
    g.estimate = limit
    return g


def test_starts_at_the_initial_limit() -> None:
    """A new limit is the initial one; nothing learnt yet."""
    g = GradientLimit(SETTINGS)
    assert g.limit == 100 and g.long_rtt_s is None


def test_steady_latency_grows_the_limit_by_smoothed_sqrt() -> None:
    """Latency at the long-term average and a busy window: the limit grows by
    smoothing x sqrt(limit) (100 -> 100 + 0.2 x 10 = 102)."""
    g = warmed()
    g.on_window(mean_rtt_s=0.1, peak_in_flight=100, dropped=False)
    assert g.estimate == pytest.approx(102.0)


def test_latency_within_tolerance_still_grows() -> None:
    """1.4 x the average is within the 1.5 tolerance: the gradient stays 1, so it grows."""
    g = warmed()
    g.on_window(mean_rtt_s=0.14, peak_in_flight=100, dropped=False)
    assert g.estimate > 100.0


def test_latency_growth_shrinks_the_limit_by_the_gradient() -> None:
    """Three times the average latency: gradient 1.5 x long / short, estimate moves a
    smoothing share of the way to limit x gradient + sqrt(limit)."""
    g = warmed()
    g.on_window(mean_rtt_s=0.3, peak_in_flight=100, dropped=False)
    long = g.long_rtt_s
    assert long is not None and 0.1 < long < 0.3
    gradient = max(0.5, min(1.0, 1.5 * long / 0.3))
    assert gradient < 1.0
    expected = 100 * 0.8 + (100 * gradient + 10) * 0.2
    assert g.estimate == pytest.approx(expected)
    assert g.estimate < 100.0


def test_gradient_at_most_halves_before_smoothing() -> None:
    """A hundred times the latency moves no further than a gradient of 0.5 would."""
    g = warmed()
    g.on_window(mean_rtt_s=10.0, peak_in_flight=100, dropped=False)
    assert g.estimate == pytest.approx(100 * 0.8 + (100 * 0.5 + 10) * 0.2)


def test_a_drop_backs_off_multiplicatively() -> None:
    """A busy window with a request cut by its deadline: limit x 0.9, whatever latency."""
    g = warmed()
    g.on_window(mean_rtt_s=0.1, peak_in_flight=100, dropped=True)
    assert g.estimate == pytest.approx(90.0)


def test_a_lightly_loaded_window_changes_nothing() -> None:
    """Peak in-flight under a quarter of the limit: neither a drop nor slow latency moves
    it (a client's short deadline at low load is not congestion)."""
    g = warmed()
    g.on_window(mean_rtt_s=1.0, peak_in_flight=24, dropped=True)
    g.on_window(mean_rtt_s=1.0, peak_in_flight=24, dropped=False)
    assert g.estimate == 100.0
    g.on_window(mean_rtt_s=1.0, peak_in_flight=25, dropped=False)
    assert g.estimate < 100.0


def test_limit_never_leaves_its_bounds_at_the_edges() -> None:
    """Drops floor at min_limit; steady growth caps at max_limit."""
    g = warmed(limit=10.5)
    g.on_window(mean_rtt_s=0.1, peak_in_flight=100, dropped=True)
    assert g.estimate == 10.0
    g = warmed(limit=399.0)
    g.on_window(mean_rtt_s=0.1, peak_in_flight=400, dropped=False)
    assert g.estimate == 400.0


def test_long_average_recovers_fast_after_overload() -> None:
    """When latency falls below half the long-term average, the average is cut by 10 %
    on top of its own update, so the limit stops treating normal latency as fast."""
    g = warmed(rtt_s=1.0)
    before = g.long_rtt_s
    assert before == pytest.approx(1.0)
    g.on_window(mean_rtt_s=0.1, peak_in_flight=0, dropped=False)
    averaged = 1.0 + (0.1 - 1.0) * 2 / 601
    assert g.long_rtt_s == pytest.approx(averaged * 0.9)


def test_windows_need_both_time_and_samples() -> None:
    """The first window closes at window_samples samples; each later one opens when the
    one before closed and closes once it is window_s old and holds window_samples
    samples: only then does the estimate move (a drop in it counts)."""
    g = GradientLimit(LimitSettings(initial_limit=20, min_limit=1, max_limit=40, window_s=1.0))
    for _ in range(9):
        g.on_sample(now_s=5.0, rtt_s=0.1, in_flight=0, dropped=False)
    assert g.long_rtt_s is None
    g.on_sample(now_s=5.0, rtt_s=0.1, in_flight=0, dropped=False)
    assert g.long_rtt_s == pytest.approx(0.1)  # first window: 10 samples, closed at 5.0
    for i in range(20):
        g.on_sample(now_s=5.0 + i * 0.04, rtt_s=0.1, in_flight=20, dropped=i == 0)
    assert g.estimate == 20.0  # 20 samples but only 0.76 s since 5.0
    g.on_sample(now_s=6.0, rtt_s=0.1, in_flight=20, dropped=False)
    assert g.estimate == pytest.approx(18.0)  # closed: the drop, 20 x 0.9
    for _ in range(9):
        g.on_sample(now_s=9.0, rtt_s=0.1, in_flight=20, dropped=True)
    assert g.estimate == pytest.approx(18.0)  # 3 s later but 9 samples only


def test_window_latency_is_the_mean_of_its_samples() -> None:
    """The window's latency is the mean of its non-dropped samples."""
    g = GradientLimit(LimitSettings(initial_limit=20, min_limit=1, max_limit=40, window_s=0.01))
    for i, rtt in enumerate((0.1, 0.2, 0.3, 0.4, 0.5, 0.1, 0.2, 0.3, 0.4, 0.5)):
        g.on_sample(now_s=i, rtt_s=rtt, in_flight=0, dropped=False)
    assert g.long_rtt_s == pytest.approx(0.3)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_limit": 0, "initial_limit": 1, "max_limit": 2},
        {"min_limit": 5, "initial_limit": 4, "max_limit": 8},
        {"min_limit": 1, "initial_limit": 9, "max_limit": 8},
        {"window_s": 0.0},
        {"window_samples": 0},
        {"tolerance": 0.9},
        {"smoothing": 0.0},
        {"backoff_ratio": 1.0},
        {"busy_share": 1.5},
        {"long_windows": 0},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    """Every bound of LimitSettings is checked when it is built."""
    base = {"initial_limit": 20, "min_limit": 10, "max_limit": 40}
    with pytest.raises(ValueError):
        LimitSettings(**{**base, **kwargs})  # type: ignore[arg-type]


windows = st.lists(
    st.tuples(
        st.floats(min_value=1e-4, max_value=30.0),  # window mean latency
        st.integers(min_value=0, max_value=1000),  # peak in flight
        st.booleans(),  # dropped
    ),
    max_size=60,
)
limit_settings = st.builds(
    lambda lo, span, at: LimitSettings(
        min_limit=lo, max_limit=lo + span, initial_limit=lo + round(span * at)
    ),
    st.integers(min_value=1, max_value=200),
    st.integers(min_value=0, max_value=800),
    st.floats(min_value=0.0, max_value=1.0),
)


@settings(max_examples=200, deadline=None)
@given(s=limit_settings, history=windows)
def test_property_limit_stays_within_bounds(s: LimitSettings, history) -> None:
    """Whatever the windows (latency, load, drops), min_limit <= limit <= max_limit."""
    g = GradientLimit(s)
    for rtt, peak, dropped in history:
        g.on_window(mean_rtt_s=rtt, peak_in_flight=peak, dropped=dropped)
        assert s.min_limit <= g.limit <= g.estimate <= s.max_limit


@settings(max_examples=200, deadline=None)
@given(
    s=limit_settings,
    history=windows,
    growth=st.floats(min_value=4.0, max_value=1000.0),
)
def test_property_latency_growth_lowers_the_limit(s: LimitSettings, history, growth) -> None:
    """Once the long-term average is warm (10 windows), from any history a busy window
    whose latency is `growth` (>= 4) times that average lowers a limit above 4 (or
    holds it at min_limit)."""
    g = GradientLimit(s)
    for _ in range(10):
        g.on_window(mean_rtt_s=0.1, peak_in_flight=0, dropped=False)
    for rtt, peak, dropped in history:
        g.on_window(mean_rtt_s=rtt, peak_in_flight=peak, dropped=dropped)
    before = g.estimate
    long = g.long_rtt_s if g.long_rtt_s is not None else 0.1
    g.on_window(mean_rtt_s=long * growth, peak_in_flight=math.ceil(before), dropped=False)
    if before > 4.0 and before > s.min_limit:
        assert g.estimate < before
    else:
        assert g.estimate >= s.min_limit


@settings(max_examples=200, deadline=None)
@given(s=limit_settings, history=windows, rtt=st.floats(min_value=1e-4, max_value=30.0))
def test_property_a_drop_lowers_the_limit(s: LimitSettings, history, rtt: float) -> None:
    """From any history, a busy window with a drop cuts the limit to backoff x limit,
    floored at min_limit."""
    g = GradientLimit(s)
    for r, peak, dropped in history:
        g.on_window(mean_rtt_s=r, peak_in_flight=peak, dropped=dropped)
    before = g.estimate
    g.on_window(mean_rtt_s=rtt, peak_in_flight=math.ceil(before), dropped=True)
    assert g.estimate == pytest.approx(max(s.min_limit, before * s.backoff_ratio))


# Tier shares.

SHARES = TierShares({"free": 0.5, "pro": 0.75, "enterprise": 1.0})


def test_each_tier_fills_its_share_of_the_limit() -> None:
    """With limit 100: free up to 50 in flight, pro up to 75, enterprise up to 100."""
    for tier, last in (("free", 49), ("pro", 74), ("enterprise", 99)):
        assert SHARES.admits(tier, in_flight=last, limit=100)
        assert not SHARES.admits(tier, in_flight=last + 1, limit=100)


def test_unlisted_tiers_get_the_lowest_share() -> None:
    """A tier nobody ranked (or none at all) is treated as the lowest listed tier."""
    assert SHARES.share("") == SHARES.share("gold") == 0.5


def test_tier_shares_parse_from_settings() -> None:
    """`tier=share` entries, as the router's tier_shares setting holds them."""
    parsed = TierShares.parse(("free=0.25", " pro = 0.5", "enterprise=1"))
    assert dict(parsed.shares) == {"free": 0.25, "pro": 0.5, "enterprise": 1.0}


@pytest.mark.parametrize(
    "entries",
    [(), ("free",), ("free=x",), ("=0.5",), ("free=0",), ("free=1.5",), ("a=0.5", "a=0.6")],
)
def test_bad_tier_shares_are_refused(entries: tuple[str, ...]) -> None:
    """Missing '=', non-numbers, shares outside (0, 1], duplicates and no tiers at all."""
    with pytest.raises(ValueError):
        TierShares.parse(entries)


@settings(max_examples=300, deadline=None)
@given(
    shares=st.dictionaries(
        st.sampled_from(["free", "pro", "enterprise", "team", "gold"]),
        st.floats(min_value=0.01, max_value=1.0),
        min_size=1,
    ),
    in_flight=st.integers(min_value=0, max_value=5000),
    limit=st.integers(min_value=1, max_value=5000),
    low=st.sampled_from(["free", "pro", "enterprise", "team", "gold", ""]),
    high=st.sampled_from(["free", "pro", "enterprise", "team", "gold", ""]),
)
def test_property_a_lower_tier_is_shed_before_a_higher_one(
    shares, in_flight: int, limit: int, low: str, high: str
) -> None:
    """In any state, when a tier is shed every tier with a smaller share is shed too."""
    tiers = TierShares(shares)
    if tiers.share(low) <= tiers.share(high) and not tiers.admits(
        high, in_flight=in_flight, limit=limit
    ):
        assert not tiers.admits(low, in_flight=in_flight, limit=limit)


@settings(max_examples=100, deadline=None)
@given(arrivals=st.lists(st.sampled_from(["free", "pro", "enterprise"]), max_size=300))
def test_property_limiter_sheds_free_first_and_never_exceeds_the_limit(arrivals) -> None:
    """Arrivals with nothing finishing: in-flight never passes the limit, free is never
    admitted past half of it, and once free has been shed no enterprise request is shed
    until in-flight has reached the limit itself."""
    limiter = ConcurrencyLimiter(GradientLimit(SETTINGS), SHARES)
    shed_free = False
    for tier in arrivals:
        admitted = limiter.try_acquire(tier)
        assert limiter.in_flight <= limiter.limit.limit
        if tier == "free":
            shed_free |= not admitted
            if admitted:
                assert limiter.in_flight <= 50
        elif tier == "enterprise" and not admitted:
            assert limiter.in_flight == 100
        if tier == "enterprise" and shed_free and limiter.in_flight < 100:
            assert admitted


def test_release_frees_the_slot_and_samples_latency() -> None:
    """Release lowers in-flight; a success or drop is a sample, an ignored one is not."""
    s = LimitSettings(initial_limit=4, min_limit=1, max_limit=8, window_s=0.01, window_samples=1)
    limiter = ConcurrencyLimiter(GradientLimit(s), SHARES)
    assert limiter.try_acquire("enterprise")
    limiter.release(now_s=1.0, rtt_s=0.5, completion=Completion.IGNORED)
    assert limiter.in_flight == 0 and limiter.limit.long_rtt_s is None
    assert limiter.try_acquire("enterprise")
    limiter.release(now_s=2.0, rtt_s=0.5, completion=Completion.SUCCESS)
    assert limiter.in_flight == 0 and limiter.limit.long_rtt_s == pytest.approx(0.5)
    # That busy window (1 in flight of 4) grew the estimate: 4 x 0.8 + (4 + 2) x 0.2.
    assert limiter.limit.estimate == pytest.approx(4.4)
    for _ in range(4):
        assert limiter.try_acquire("enterprise")
    assert not limiter.try_acquire("enterprise")
    limiter.release(now_s=3.0, rtt_s=0.5, completion=Completion.DROPPED)
    assert limiter.limit.estimate == pytest.approx(4.4 * 0.9)
    assert limiter.in_flight == 3
