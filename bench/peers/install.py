"""Install the peer gateways under bench/.peers/, never into the project's .venv.

LiteLLM gets its own virtualenv (`litellm[proxy]` pulls in a web stack of its own);
the Portkey gateway is an npm package run with node. Versions are pinned so a run is
reproducible; override with BENCH_LITELLM_SPEC / BENCH_PORTKEY_SPEC. A stamp file
records what was installed, so later runs skip the install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PEERS_DIR = Path(__file__).resolve().parents[1] / ".peers"
LITELLM_SPEC = os.environ.get("BENCH_LITELLM_SPEC", "litellm[proxy]==1.108.7")
PORTKEY_SPEC = os.environ.get("BENCH_PORTKEY_SPEC", "@portkey-ai/gateway@1.15.2")
PORTKEY_ENTRY = Path("node_modules/@portkey-ai/gateway/build/start-server.js")


class PeerUnavailable(RuntimeError):
    """The peer cannot be installed or run here; the message says why."""


def _run(args: list[str], *, cwd: Path | None, timeout_s: float, what: str) -> None:
    try:
        done = subprocess.run(
            args, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except FileNotFoundError as exc:
        raise PeerUnavailable(f"{what}: {args[0]} not found") from exc
    except subprocess.TimeoutExpired as exc:
        raise PeerUnavailable(f"{what}: no result after {timeout_s:.0f} s") from exc
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise PeerUnavailable(f"{what} failed (exit {done.returncode}): {tail}")


def _stamped(stamp: Path, spec: str) -> bool:
    return stamp.exists() and stamp.read_text().strip() == spec


def ensure_litellm() -> Path:
    """The LiteLLM virtualenv's python, installing `litellm[proxy]` on first use."""
    venv = PEERS_DIR / "litellm"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if _stamped(stamp, LITELLM_SPEC) and python.exists():
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    # The interpreter behind this venv, so the peer's venv does not nest in ours.
    base = getattr(sys, "_base_executable", sys.executable)
    _run([base, "-m", "venv", "--clear", str(venv)], cwd=None, timeout_s=120, what="venv")
    _run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", LITELLM_SPEC],
        cwd=None,
        timeout_s=600,
        what=f"pip install {LITELLM_SPEC}",
    )
    stamp.write_text(LITELLM_SPEC)
    return python


def ensure_portkey() -> Path:
    """The Portkey gateway's start script, installing it with npm on first use."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise PeerUnavailable("node and npm are needed for the Portkey gateway")
    home = PEERS_DIR / "portkey"
    stamp = home / ".installed"
    if _stamped(stamp, PORTKEY_SPEC) and (home / PORTKEY_ENTRY).exists():
        return home / PORTKEY_ENTRY
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "package.json").exists():
        (home / "package.json").write_text('{"name": "bench-portkey", "private": true}\n')
    _run(
        ["npm", "install", "--no-audit", "--no-fund", "--silent", PORTKEY_SPEC],
        cwd=home,
        timeout_s=300,
        what=f"npm install {PORTKEY_SPEC}",
    )
    if not (home / PORTKEY_ENTRY).exists():
        raise PeerUnavailable(f"{PORTKEY_SPEC} installed but {PORTKEY_ENTRY} is missing")
    stamp.write_text(PORTKEY_SPEC)
    return home / PORTKEY_ENTRY


def installed_version(python: Path, package: str) -> str:
    try:
        done = subprocess.run(
            [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()
