"""The router's overload settings (services/router/config.py, __main__.overload_guard):
defaults, flags, what turns the limiter off, and one-line start errors for bad values."""

from __future__ import annotations

import pytest

from services.router.__main__ import overload_guard
from services.router.config import RouterConfig
from switchyard.runtime.config import load_config
from switchyard.runtime.errors import StartupError


def config(*argv: str) -> RouterConfig:
    return load_config(RouterConfig, env_prefix="SWITCHYARD_ROUTER_", argv=argv, environ={})


def test_defaults_start_at_512_within_256_to_4096() -> None:
    """By default the limit starts at 512, may move within [256, 4096], 1 s windows;
    free, pro and enterprise get half, three quarters and all of it."""
    settings = config().concurrency_limit
    assert settings is not None
    assert (settings.initial_limit, settings.min_limit, settings.max_limit) == (512, 256, 4096)
    assert settings.window_s == 1.0
    assert dict(config().tiers.shares) == {"free": 0.5, "pro": 0.75, "enterprise": 1.0}


def test_flags_set_the_limit_and_tiers() -> None:
    """Flags as the e2e tests and operators pass them; initial 0 clamps 512 into range."""
    c = config(
        "--concurrency-limit-min",
        "4",
        "--concurrency-limit-max",
        "16",
        "--concurrency-window-ms",
        "250",
        "--tier-shares",
        "free=0.2,gold=1",
    )
    settings = c.concurrency_limit
    assert settings is not None
    assert (settings.initial_limit, settings.min_limit, settings.max_limit) == (16, 4, 16)
    assert settings.window_s == 0.25
    assert dict(c.tiers.shares) == {"free": 0.2, "gold": 1.0}
    guard = overload_guard(c)
    assert guard.limiter is not None and guard.limiter.limit.limit == 16


def test_max_zero_turns_the_limiter_off() -> None:
    """concurrency_limit_max 0: no limiter, rate limits only."""
    c = config("--concurrency-limit-max", "0")
    assert c.concurrency_limit is None
    assert overload_guard(c).limiter is None


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("--concurrency-limit-min", "0"), "concurrency_limit_*"),
        (("--concurrency-limit-min", "64", "--concurrency-limit-max", "32"), "min <= initial"),
        (("--concurrency-limit-initial", "9000"), "min <= initial <= max"),
        (("--concurrency-window-ms", "0"), "concurrency_window_ms"),
        (("--tier-shares", "free"), "tier_shares"),
        (("--tier-shares", "free=2"), "tier_shares"),
    ],
)
def test_bad_settings_are_start_errors(argv: tuple[str, ...], says: str) -> None:
    """Each bad value stops the start with a StartupError naming the setting."""
    with pytest.raises(StartupError, match=says.replace("*", r"\*")):
        config(*argv)
