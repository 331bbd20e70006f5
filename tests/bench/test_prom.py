"""Reading the services' Prometheus counters and histograms."""

from __future__ import annotations

import math

from bench.prom import ROUTE_METHOD, add_counts, rpc_buckets, rpc_codes, samples

PLAN = "/switchyard.router.v1.RouterService/Plan"

EXPOSITION = f"""
# HELP switchyard_rpc_total RPCs handled, by method and status code
# TYPE switchyard_rpc_total counter
switchyard_rpc_total{{code="OK",method="{ROUTE_METHOD}",service="router"}} 120.0
switchyard_rpc_total{{code="UNAVAILABLE",method="{ROUTE_METHOD}",service="router"}} 3.0
switchyard_rpc_total{{code="OK",method="{PLAN}",service="router"}} 7.0
switchyard_rpc_total{{code="OK",method="{ROUTE_METHOD}",service="other"}} 5.0
switchyard_rpc_seconds_bucket{{le="0.001",method="{ROUTE_METHOD}",service="router"}} 100.0
switchyard_rpc_seconds_bucket{{le="+Inf",method="{ROUTE_METHOD}",service="router"}} 123.0
process_open_fds 12.0
weird_metric{{note="say \\"hi\\"\\n",x="a,b"}} 1.5
"""


def test_samples_read_names_labels_and_values() -> None:
    """Every sample line is read, including escaped quotes and commas inside labels."""
    found = list(samples(EXPOSITION))
    assert ("process_open_fds", {}, 12.0) in found
    weird = next(s for s in found if s[0] == "weird_metric")
    assert weird[1] == {"note": 'say "hi"\n', "x": "a,b"} and weird[2] == 1.5


def test_rpc_codes_for_one_method_and_service() -> None:
    """Route() calls by status code for the router service only."""
    assert rpc_codes(EXPOSITION, service="router") == {"OK": 120.0, "UNAVAILABLE": 3.0}
    assert rpc_codes(EXPOSITION) == {"OK": 125.0, "UNAVAILABLE": 3.0}
    assert rpc_codes("") == {}


def test_buckets_and_adding_processes() -> None:
    """Histogram buckets keyed by bound (+Inf as inf); counters of two routers add up."""
    buckets = rpc_buckets(EXPOSITION, service="router")
    assert buckets == {0.001: 100.0, math.inf: 123.0}
    assert add_counts({"OK": 1.0}, {"OK": 2.0, "X": 1.0}) == {"OK": 3.0, "X": 1.0}
