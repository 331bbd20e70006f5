"""The config `make observe` writes for Prometheus from deploy/prometheus/prometheus.yml."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from switchyard.tools.observe import BASE_CONFIG, observe_config, parse_targets, scrape_targets


def base() -> dict:
    return yaml.safe_load(BASE_CONFIG.read_text())


def test_the_default_scrapes_make_runs_metrics_ports() -> None:
    """Without flags: the suite's four services on 9101-9103 and 9110, rules absolute."""
    config = observe_config(base(), base_dir=BASE_CONFIG.parent, targets={})
    assert sorted(scrape_targets(config)) == [
        ("switchyard-controlplane", "127.0.0.1:9103"),
        ("switchyard-registry", "127.0.0.1:9102"),
        ("switchyard-router", "127.0.0.1:9101"),
        ("switchyard-verifier", "127.0.0.1:9110"),
    ]
    assert all(Path(f).is_absolute() for f in config["rule_files"])
    assert [Path(f).parent for f in config["rule_files"]] == [BASE_CONFIG.parent / "rules"]


def test_targets_and_interval_replace_the_configs() -> None:
    """--target replaces a job's targets (or adds a job); --interval sets both intervals."""
    targets = parse_targets(["router=127.0.0.1:1", "router=127.0.0.1:2", "extra=h:3"])
    config = observe_config(base(), base_dir=BASE_CONFIG.parent, targets=targets, interval="1s")
    found = scrape_targets(config)
    assert ("switchyard-router", "127.0.0.1:1") in found
    assert ("switchyard-router", "127.0.0.1:2") in found
    assert ("switchyard-router", "127.0.0.1:9101") not in found
    assert ("switchyard-extra", "h:3") in found
    assert config["global"]["scrape_interval"] == config["global"]["evaluation_interval"] == "1s"


@pytest.mark.parametrize("bad", ["router", "=h:1", "router=nohost"])
def test_a_malformed_target_is_refused(bad: str) -> None:
    with pytest.raises(SystemExit, match="service=host:port"):
        parse_targets([bad])


def test_the_written_config_passes_promtool(promtool: str, tmp_path: Path) -> None:
    """What observe writes (absolute rule files) is a valid Prometheus config."""
    config = observe_config(base(), base_dir=BASE_CONFIG.parent, targets={}, interval="5s")
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [promtool, "check", "config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_suite_passes_each_service_its_metrics_port(tmp_path: Path) -> None:
    """`make run`'s suite gives every service the port deploy/prometheus scrapes, and the
    routers' own list wins for the router; without metrics ports there is no URL."""
    from switchyard.suite import Suite, SuiteMetricsPorts, SuiteSettings

    suite = Suite(SuiteSettings(state_dir=tmp_path, metrics=SuiteMetricsPorts()))
    assert suite._server_args("registry")[-2:] == ["--metrics-port", "9102"]
    assert suite.metrics_url("verifier") == "http://127.0.0.1:9110/metrics"
    assert suite.metrics_url("router") == "http://127.0.0.1:9101/metrics"
    listed = Suite(
        SuiteSettings(state_dir=tmp_path, metrics=SuiteMetricsPorts(), router_metrics_ports=(7,))
    )
    assert listed.metrics_url("router") == "http://127.0.0.1:7/metrics"
    bare = Suite(SuiteSettings(state_dir=tmp_path))
    assert bare.metrics_url("router") is None and "--metrics-port" not in bare._server_args(
        "registry"
    )
