"""Flags' `--help` comes from the comments above the config fields."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from services.router.config import RouterConfig
from switchyard.runtime.config_help import field_help

REPO = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Sample:
    # Where it listens.
    port: int = 0
    # TLS: certificate and key,
    # both PEM.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    grace_s: float = 5.0

    plain: str = ""


@dataclasses.dataclass(frozen=True)
class Extended(Sample):
    # Overridden here.
    port: int = 1


def test_a_comment_covers_its_field_and_the_same_words_after_it() -> None:
    helps = field_help(Sample)
    assert helps["port"] == "Where it listens."
    assert helps["tls_cert_file"] == helps["tls_key_file"] == "TLS: certificate and key, both PEM."
    assert "grace_s" not in helps and "plain" not in helps
    assert field_help(Extended)["port"] == "Overridden here."


def test_router_help_says_what_each_new_setting_does() -> None:
    helps = field_help(RouterConfig)
    assert "embedded verification" in helps["scorer_path"]
    assert "other hosts" in helps["feedback_peers"]
    assert helps["peer_tls_ca_file"] == helps["peer_tls_key_file"]
    result = subprocess.run(
        [sys.executable, "-m", "services.router", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert "SWITCHYARD_ROUTER_FEEDBACK_PEERS" in result.stdout
    assert "the fallback when the verifier" in " ".join(result.stdout.split())
