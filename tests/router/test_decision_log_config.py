"""The router's decision-log settings: on by default under the state dir, bounds checked
at start, the redaction hook loaded from its `module:function` name."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.router.__main__ import decision_log_settings
from services.router.config import RouterConfig
from services.router.decision_log import build_redactor, load_callable
from switchyard.runtime.errors import StartupError


def test_on_by_default_in_the_state_dir() -> None:
    settings = decision_log_settings(RouterConfig(state_dir="var/router"))
    assert settings is not None and settings.path == Path("var/router/decisions.db")
    assert settings.max_bytes == 256 * 1024 * 1024 and settings.rotations == 3
    assert not settings.capture_text


def test_off_when_disabled_or_nowhere_to_write() -> None:
    assert decision_log_settings(RouterConfig(decision_log=False)) is None
    assert decision_log_settings(RouterConfig(state_dir="")) is None
    elsewhere = decision_log_settings(RouterConfig(state_dir="", decision_log_path="/x/d.db"))
    assert elsewhere is not None and elsewhere.path == Path("/x/d.db")


def test_capture_uses_the_configured_patterns_and_redactor() -> None:
    settings = decision_log_settings(
        RouterConfig(
            decision_log_capture_text=True,
            decision_log_redact=(r"order-\d+",),
            decision_log_redactor="string:capwords",
        )
    )
    assert settings is not None and settings.capture_text and settings.redact is not None
    assert settings.redact("mail bob@example.org about order-12") == (
        "Mail [redacted] About [redacted]"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"decision_log_rotations": -1},
        {"decision_log_rotations": 100},
        {"decision_log_max_mb": 3, "decision_log_rotations": 3},
    ],
)
def test_bounds_are_checked_at_start(fields: dict[str, int]) -> None:
    with pytest.raises(StartupError, match="decision_log"):
        RouterConfig(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["nocolon", "no.such.module:f", "string:nothing", "string:digits"])
def test_a_redactor_that_cannot_be_loaded_stops_the_start(spec: str) -> None:
    with pytest.raises(StartupError, match="decision_log_redactor"):
        load_callable(spec)


def test_a_bad_pattern_stops_the_start() -> None:
    with pytest.raises(StartupError, match="decision_log_redact"):
        build_redactor(["(unclosed"])


def test_built_in_patterns_redact_cards_and_bearer_tokens() -> None:
    redact = build_redactor()
    assert redact("card 4111 1111 1111 1111, Bearer abc.def-123") == "card [redacted], [redacted]"
    assert redact("call me at 555-0100") == "call me at 555-0100"
