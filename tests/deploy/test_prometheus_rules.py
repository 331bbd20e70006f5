"""The Prometheus rules and scrape config in deploy/prometheus, checked and unit-tested
by the real promtool, and every metric they name is one the services export."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import DEPLOY
from tests.deploy.exported import BUILT_ELSEWHERE, metric_names

PROMETHEUS = DEPLOY / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.test.yml"))


def promtool_run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_rule_files_pass_promtool_check(promtool: str) -> None:
    """Every rule file parses, and every expression is valid PromQL."""
    assert RULE_FILES
    done = promtool_run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_scrape_config_passes_promtool_check(promtool: str) -> None:
    """prometheus.yml (what `make observe` runs) is a valid config with its rule files."""
    done = promtool_run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(RULE_FILES)} rule files found" in done.stdout


@pytest.mark.parametrize("unit", RULE_TESTS, ids=lambda p: p.name)
def test_rule_unit_tests_pass(promtool: str, unit) -> None:
    """Burn-rate, spend, breaker, escalation and decision-log alerts on synthetic series
    fire when they should and stay quiet when they should (deploy/prometheus/tests)."""
    done = promtool_run(promtool, "test", "rules", str(unit))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_alert_fails_its_unit_test(promtool: str, tmp_path: Path) -> None:
    """The unit tests can fail: the fast burn-rate page at 30x instead of 14.4x misses
    the short burst (tests/slo.test.yml, paged at 315m) it must page on."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    source = (PROMETHEUS / "rules" / "slo.yml").read_text()
    assert "(14.4 * 0.005)" in source
    (tmp_path / "rules" / "slo.yml").write_text(source.replace("(14.4 * 0.005)", "(30 * 0.005)"))
    unit = yaml.safe_load((PROMETHEUS / "tests" / "slo.test.yml").read_text())
    unit["tests"] = [
        t for t in unit["tests"] if any(a["eval_time"] == "315m" for a in t["alert_rule_test"])
    ]
    assert len(unit["tests"]) == 1
    burst = tmp_path / "tests" / "slo.test.yml"
    burst.write_text(yaml.safe_dump(unit))
    done = promtool_run(promtool, "test", "rules", str(burst))
    assert done.returncode != 0 and "RouteErrorBudgetBurnFast" in done.stdout + done.stderr


def test_every_rule_file_has_unit_tests() -> None:
    """Each rule file is loaded by at least one unit-test file."""
    tested = {
        (unit.parent / name).resolve().name
        for unit in RULE_TESTS
        for name in yaml.safe_load(unit.read_text())["rule_files"]
    }
    assert tested == {p.name for p in RULE_FILES}


async def test_rules_name_only_exported_metrics(exported: frozenset[str]) -> None:
    """Every switchyard_* series a rule reads is one the services export after real
    routes (or, for the decision log, the name its branch exports)."""
    named = set()
    for path in RULE_FILES:
        named |= metric_names(path.read_text())
    assert named, "no metric names found in the rules"
    missing = sorted(named - exported - BUILT_ELSEWHERE)
    assert not missing, f"rules read metrics no service exports: {missing}"
    assert re.search("switchyard_router_routes_total", " ".join(named))
