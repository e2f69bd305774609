"""`llmops calls` and `llmops metrics`: the query they send and the tables they print."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from llmops_warehouse.models import TimeseriesPoint
from typer.testing import Result

from tests.unit.cli.conftest import NOW, FakePlatform, call_row, problem, summary_row

Invoke = Callable[..., Result]
Demo = Callable[[int], list[dict[str, Any]]]


def _row_of(output: str, first_cell: str) -> list[str]:
    """The cells of the table row that starts with ``first_cell``."""
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line)[1:-1]]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row starting with {first_cell!r} in:\n{output}")


def _params(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


def test_calls_shows_one_row_per_call_with_total_tokens_from_usage(
    invoke: Invoke, fake: FakePlatform, demo: Demo
) -> None:
    records = demo(40)
    ok = next(r for r in records if "usage" in r)
    failed = next(r for r in records if r.get("status") == "error")
    fake.calls = [call_row(ok), call_row(failed)]

    result = invoke("calls", "--api-key", "k")

    assert result.exit_code == 0, result.output
    started = datetime.fromisoformat(ok["started_at"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert _row_of(result.stdout, started) == [
        started,
        ok["call_id"],
        ok["app"],
        ok["model"],
        "ok",
        f"{ok['usage']['total_tokens']:,}",
        f"{ok['latency_ms']:,.1f}",
    ]
    failed_started = datetime.fromisoformat(failed["started_at"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert _row_of(result.stdout, failed_started)[4:6] == ["error", "-"]  # no usage: no tokens
    assert "more:" not in result.stdout


def test_calls_passes_filters_and_the_cursor_and_prints_the_next_one(invoke: Invoke, fake: FakePlatform) -> None:
    fake.next_cursor = "WzEsMTcwMDAwMDAwMDAwMCwiYWJjIl0"

    result = invoke(
        "calls",
        *("--app", "support-bot", "--model", "gpt-4o-mini", "--status", "error", "--search", "password"),
        *("--user", "user-7", "--environment", "staging", "--since", "2h", "--limit", "5"),
        *("--cursor", "previous-page", "--api-key", "k"),
    )

    assert result.exit_code == 0, result.output
    params = _params(fake.requests[0])
    start = datetime.fromisoformat(params.pop("start"))
    assert abs(start - (datetime.now(UTC) - timedelta(hours=2))) < timedelta(seconds=30)
    assert params == {
        "app": "support-bot",
        "model": "gpt-4o-mini",
        "status": "error",
        "text": "password",
        "user_id": "user-7",
        "environment": "staging",
        "limit": "5",
        "cursor": "previous-page",
    }
    assert f"more: repeat with --cursor {fake.next_cursor}" in result.stdout


def test_calls_json_prints_the_page_as_the_api_returned_it(invoke: Invoke, fake: FakePlatform, demo: Demo) -> None:
    fake.calls = [call_row(r) for r in demo(3)]
    fake.next_cursor = "abc"

    result = invoke("calls", "--json", "--api-key", "k")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"items": fake.calls, "next_cursor": "abc"}


def test_metrics_summary_table_has_every_metric_per_group(invoke: Invoke, fake: FakePlatform) -> None:
    fake.summary = [
        summary_row("gpt-4o-mini", 1200, 36, (150_000, 210_000), (480.0, 1250.5, 2010.25)),
        summary_row("claude-3-5-haiku", 800, 0, (90_000, 100_000), (450.0, 990.0, 1500.0)),
    ]

    result = invoke("metrics", "--group-by", "model", "--since", "90", "--api-key", "k")

    assert result.exit_code == 0, result.output
    assert _params(fake.requests[0])["group_by"] == "model"
    assert "summary by model (last 90)" in result.stdout
    header = _row_of(result.stdout, "group")
    assert header == ["group", "calls", "errors", "error rate", "tokens", "p50 ms", "p95 ms", "p99 ms"]
    assert _row_of(result.stdout, "gpt-4o-mini") == [
        "gpt-4o-mini",
        "1,200",
        "36",
        "3.0%",
        "360,000",
        "480.0",
        "1,250.5",
        "2,010.2",
    ]
    assert _row_of(result.stdout, "claude-3-5-haiku")[1:4] == ["800", "0", "0.0%"]


def test_metrics_ungrouped_row_is_labelled_all(invoke: Invoke, fake: FakePlatform) -> None:
    fake.summary = [summary_row(None, 5, 1, (10, 20), (1.0, 2.0, 3.0))]

    result = invoke("metrics", "--group-by", "none", "--api-key", "k")

    assert result.exit_code == 0, result.output
    assert _row_of(result.stdout, "(all)")[1:4] == ["5", "1", "20.0%"]


def test_metrics_timeseries_asks_for_the_step_and_shows_buckets(invoke: Invoke, fake: FakePlatform) -> None:
    buckets = [NOW - timedelta(minutes=10), NOW - timedelta(minutes=5)]
    fake.points = [
        TimeseriesPoint.compute(10 * (i + 1), i, 100, 200, 300, (5.0, 6.0, 7.0), bucket_start=b, group="support-bot")
        for i, b in enumerate(buckets)
    ]

    result = invoke("metrics", "--timeseries", "--step", "5m", "--group-by", "app", "--api-key", "k")

    assert result.exit_code == 0, result.output
    request = fake.requests[0]
    assert request.url.path == "/v1/metrics/timeseries"
    assert _params(request)["step_seconds"] == "300"
    assert _params(request)["group_by"] == "app"
    assert "by app per 5 min" in result.stdout
    assert _row_of(result.stdout, "2026-03-01 11:55:00") == [
        "2026-03-01 11:55:00",
        "support-bot",
        "20",
        "1",
        "5.0%",
        "300",
        "5.0",
        "6.0",
        "7.0",
    ]


def test_metrics_timeseries_default_step_makes_about_twelve_buckets(invoke: Invoke, fake: FakePlatform) -> None:
    result = invoke("metrics", "--timeseries", "--since", "6h", "--api-key", "k")

    assert result.exit_code == 0, result.output
    assert _params(fake.requests[0])["step_seconds"] == "1800"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--timeseries", "--step", "90s"), "must be whole minutes"),
        (("--step", "5m"), "only with --timeseries"),
        (("--since", "yesterday"), "is not a duration"),
        (("--group-by", "user"), "'user' is not one of"),
    ],
)
def test_metrics_bad_options_are_usage_errors(
    invoke: Invoke, fake: FakePlatform, args: tuple[str, ...], message: str
) -> None:
    result = invoke("metrics", *args, "--api-key", "k")

    assert result.exit_code == 2
    assert message in result.output
    assert fake.requests == []


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (problem(401, "unknown API key"), "GET /v1/calls: 401 unknown API key (pass --api-key"),
        (problem(403, "role 'ingest' lacks calls:read"), "403 role 'ingest' lacks calls:read (this key's role"),
        (problem(400, "invalid cursor: pass back the next_cursor"), "400 invalid cursor: pass back the next_cursor"),
        (httpx.Response(502, text="Bad Gateway"), "GET /v1/calls: 502 Bad Gateway"),
        (httpx.Response(200, text="<html>"), "GET /v1/calls: 200 answer is not JSON"),
    ],
)
def test_api_errors_are_one_clear_line_and_exit_1(
    invoke: Invoke, fake: FakePlatform, response: httpx.Response, message: str
) -> None:
    fake.override = lambda request: response

    result = invoke("calls", "--api-key", "k")

    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output


def test_an_unreachable_platform_is_a_clear_error(invoke: Invoke, fake: FakePlatform) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    fake.override = refuse

    result = invoke("metrics", "--api-key", "k")

    assert result.exit_code == 1
    assert "cannot reach http://127.0.0.1:8002" in result.stderr
    assert "Connection refused" in result.stderr
    assert "is the platform running? `llmops up`" in result.stderr
