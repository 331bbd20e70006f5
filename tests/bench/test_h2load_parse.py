"""Reading h2load's summary and per-request log."""

from __future__ import annotations

import pytest

from bench.h2load import H2loadError, command, parse_log, parse_output

OUTPUT = """starting benchmark...
spawning thread #0: 4 total client(s). 3000 total requests
progress: 100% done

finished in 4.71s, 636.63 req/s, 265.80KB/s
requests: 3000 total, 3000 started, 2998 done, 2997 succeeded, 3 failed, 2 errored, 0 timeout
status codes: 2997 2xx, 0 3xx, 0 4xx, 1 5xx
traffic: 1.22MB (1282611) total, 9.08KB (9300) headers (space savings 96.17%), 1.06MB data
"""


def test_summary_figures() -> None:
    """Duration, rate, request counts and status classes come out as numbers."""
    figures = parse_output(OUTPUT)
    assert figures["duration_s"] == 4.71 and figures["rps"] == 636.63
    assert (figures["started"], figures["done"], figures["failed"], figures["errored"]) == (
        3000,
        2998,
        3,
        2,
    )
    assert figures["status"] == {"2xx": 2997, "3xx": 0, "4xx": 0, "5xx": 1}


def test_millisecond_durations() -> None:
    """A short run prints its duration in ms."""
    text = OUTPUT.replace("finished in 4.71s", "finished in 406.39ms")
    assert parse_output(text)["duration_s"] == pytest.approx(0.40639)


def test_no_summary_is_an_error() -> None:
    """When h2load could not connect it prints no summary; that is an error, not zeros."""
    with pytest.raises(H2loadError, match="no summary"):
        parse_output("connect to 127.0.0.1:1 failed\n")


def test_log_latencies_skip_failed_requests() -> None:
    """Per-request log: elapsed µs -> ms; status -1 (no response) is left out."""
    log = "1700000000000000\t200\t1500\n1700000000000100\t-1\t99\nbad line\n1\t200\t250\n"
    assert parse_log(log) == [1.5, 0.25]


def test_command_line() -> None:
    """gRPC over h2c with a body and headers; --h1 for HTTP/1.1 gateways."""
    args = command(
        "http://h:1/p",
        requests=10,
        connections=2,
        streams=4,
        headers=("te: trailers",),
        h1=True,
    )
    assert args[:9] == ["h2load", "-n", "10", "-c", "2", "-m", "4", "-t", "1"]
    assert "--h1" in args and args[-3:] == ["-H", "te: trailers", "http://h:1/p"]
