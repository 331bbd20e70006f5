"""The Grafana dashboard in deploy/grafana: well-formed, every query valid PromQL (the
real promtool parses it), and every metric it reads exported by the services after
real routes or recorded by the rules in deploy/prometheus."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DEPLOY
from tests.deploy.exported import BUILT_ELSEWHERE, metric_names, recorded_names

DASHBOARD = DEPLOY / "grafana" / "switchyard-routing.json"
# Grafana's variables, as Prometheus would see them after Grafana substitutes them.
VARIABLES = {"$__rate_interval": "5m", "$rule": ".*"}


def load() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def graph_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found += panel.get("panels", []) if panel["type"] == "row" else [panel]
    return found


def queries(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in graph_panels(dashboard) for t in p["targets"]]
    exprs += [
        v["query"]["query"].removeprefix("label_values(").split(",")[0]
        for v in dashboard["templating"]["list"]
        if v["type"] == "query"
    ]
    return exprs


def substituted(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def recording_rules() -> set[str]:
    names = set()
    for path in (DEPLOY / "prometheus" / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names |= {r["record"] for r in group["rules"] if "record" in r}
    return names


def test_the_dashboard_is_well_formed() -> None:
    """Unique panel ids, a datasource variable on every query, a title, a unit and at
    least one query per panel, and no panel overlapping another."""
    dashboard = load()
    panels = graph_panels(dashboard)
    rows = [p for p in dashboard["panels"] if p["type"] == "row"]
    ids = [p["id"] for p in rows + panels]
    assert len(set(ids)) == len(ids) and len(panels) >= 20
    cells = set()
    for panel in panels:
        assert panel["title"] and panel["targets"], panel
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["fieldConfig"]["defaults"]["unit"]
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "rule"}


def test_every_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    """promtool parses each query (as a recording rule's expression)."""
    rules = [
        {"record": f"dashboard:query_{i}", "expr": substituted(e)}
        for i, e in enumerate(queries(load()))
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def test_every_query_names_an_exported_or_recorded_metric(
    exported: frozenset[str],
) -> None:
    """Each switchyard_* name a query reads is exported after real routes (the decision
    log's by its own branch), and each recorded name is a rule in deploy/prometheus."""
    exprs = queries(load())
    named = set().union(*(metric_names(e) for e in exprs))
    missing = sorted(named - exported - BUILT_ELSEWHERE)
    assert not missing, f"dashboard queries read metrics no service exports: {missing}"
    recorded = set().union(*(recorded_names(e) for e in exprs))
    assert recorded and not recorded - recording_rules(), recorded - recording_rules()


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("sum(rate(switchyard_router_routes_total[5m]))", {"switchyard_router_routes_total"}),
        ("rule:switchyard_router_errors:ratio_rate5m > 0.1", set()),
        ("switchyard_a / switchyard_b_total", {"switchyard_a", "switchyard_b_total"}),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    """Metric names, not the parts of recording-rule names, are what the check compares."""
    assert metric_names(expr) == names
