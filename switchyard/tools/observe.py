"""`make observe`: a real Prometheus server (Debian's binary) scraping a running suite,
with the alert and recording rules of deploy/prometheus.

It writes a config from deploy/prometheus/prometheus.yml into the data directory (rule
files made absolute, targets and intervals as asked), says which of the suite's /metrics
endpoints answer, prints the URL, and becomes the Prometheus process (exec: Ctrl-C and
SIGTERM reach Prometheus itself).

    python -m switchyard.tools.observe [--port 9090] [--data-dir var/prometheus]
        [--target router=127.0.0.1:9101 ...] [--interval 15s]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from switchyard.tools.genproto import REPO_ROOT

BASE_CONFIG = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
JOB_PREFIX = "switchyard-"


def parse_targets(values: Sequence[str]) -> dict[str, list[str]]:
    """`service=host:port` flags (repeatable; a service may be named more than once)."""
    targets: dict[str, list[str]] = {}
    for value in values:
        service, sep, address = value.partition("=")
        if not sep or not service or ":" not in address:
            raise SystemExit(f"observe: --target wants service=host:port, got {value!r}")
        targets.setdefault(service, []).append(address)
    return targets


def observe_config(
    base: Mapping[str, Any],
    *,
    base_dir: Path,
    targets: Mapping[str, list[str]],
    interval: str = "",
) -> dict[str, Any]:
    """The base config with absolute rule files, the given targets for the named
    services' jobs (a service with no job gets one) and, if set, one interval."""
    config = dict(base)
    config["rule_files"] = [str((base_dir / f).resolve()) for f in base.get("rule_files", [])]
    if interval:
        config["global"] = {
            **base.get("global", {}),
            "scrape_interval": interval,
            "evaluation_interval": interval,
        }
    jobs = [dict(job) for job in base.get("scrape_configs", [])]
    by_name = {job["job_name"]: job for job in jobs}
    for service, addresses in targets.items():
        job = by_name.get(JOB_PREFIX + service)
        if job is None:
            job = {"job_name": JOB_PREFIX + service}
            jobs.append(job)
        job["static_configs"] = [{"targets": list(addresses)}]
    config["scrape_configs"] = jobs
    return config


def scrape_targets(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        (job["job_name"], address)
        for job in config.get("scrape_configs", [])
        for static in job.get("static_configs", [])
        for address in static.get("targets", [])
    ]


def answers(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=1.0) as reply:
            return bool(reply.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def check_port_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise SystemExit(
                f"observe: cannot listen on {host}:{port} ({exc.strerror}); is another"
                " Prometheus running (Debian's service: systemctl stop prometheus)? Try --port."
            ) from exc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9090, help="Prometheus web port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--data-dir", type=Path, default=Path("var/prometheus"))
    parser.add_argument("--config", type=Path, default=BASE_CONFIG)
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        help="service=host:port to scrape instead of the config's (repeatable)",
    )
    parser.add_argument("--interval", default="", help="scrape and rule interval, e.g. 1s")
    args = parser.parse_args(argv)
    binary = shutil.which("prometheus")
    if binary is None:
        raise SystemExit("observe: no prometheus binary; `make prometheus-tool` installs it")
    base = yaml.safe_load(args.config.read_text())
    config = observe_config(
        base,
        base_dir=args.config.parent,
        targets=parse_targets(args.target),
        interval=args.interval,
    )
    args.data_dir.mkdir(parents=True, exist_ok=True)
    config_path = args.data_dir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    check_port_free(args.host, args.port)
    up = [(job, address, answers(address)) for job, address in scrape_targets(config)]
    for job, address, ok in up:
        print(f"  {job:<26} {address:<22} {'up' if ok else 'not answering'}")
    if not any(ok for _, _, ok in up):
        print("  No suite metrics answer yet: start the suite (make run) in another terminal.")
    url = f"http://{args.host}:{args.port}"
    print(f"Prometheus: {url}  (targets: {url}/targets, alerts: {url}/alerts)", flush=True)
    command = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={args.data_dir / 'data'}",
        f"--web.listen-address={args.host}:{args.port}",
    ]
    os.execv(binary, command)
    return 0  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main())
