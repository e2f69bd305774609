"""`llmops send`: batching, progress, accepted/rejected counts with line numbers, exit codes, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from typer.testing import Result

from tests.unit.cli.conftest import FakePlatform, problem

Invoke = Callable[..., Result]
Demo = Callable[[int], list[dict[str, Any]]]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_all_records_are_sent_in_batches_with_a_progress_bar(
    invoke: Invoke, fake: FakePlatform, demo: Demo, tmp_path: Path
) -> None:
    records = demo(7)
    file = _write(tmp_path / "calls.jsonl", [json.dumps(r) for r in records])

    result = invoke("send", str(file), "--batch-size", "3", "--api-key", "k")

    assert result.exit_code == 0, result.output
    posts = fake.ingest_posts()
    assert [len(json.loads(p.content)["calls"]) for p in posts] == [3, 3, 1]
    assert [c["call_id"] for c in fake.calls] == [r["call_id"] for r in records]
    assert all(p.headers["authorization"] == "Bearer k" for p in posts)
    assert "7 accepted, 0 rejected" in result.stdout
    assert "sending" in result.stderr and "7/7" in result.stderr  # the progress bar, on stderr


def test_rejected_records_are_listed_by_line_number_and_exit_2(
    invoke: Invoke, fake: FakePlatform, demo: Demo, tmp_path: Path
) -> None:
    good = [json.dumps(r) for r in demo(5)]
    bad = json.dumps({**demo(1)[0], "call_id": "bad-1", "latency_ms": -1})
    # blank lines do not shift the numbering: the bad record is on line 4 of the file, then line 8
    file = _write(tmp_path / "calls.jsonl", [good[0], "", good[1], bad, good[2], good[3], good[4], bad])

    result = invoke("send", str(file), "--batch-size", "4", "--api-key", "k")

    assert result.exit_code == 2, result.output
    assert "5 accepted, 2 rejected" in result.stdout
    assert "line 4: latency_ms: Input should be greater than or equal to 0 (greater_than_equal)" in result.stdout
    assert "line 8: latency_ms" in result.stdout
    assert len(fake.calls) == 5


def test_a_batch_where_every_record_is_rejected_still_reports_each_line(
    invoke: Invoke, fake: FakePlatform, demo: Demo, tmp_path: Path
) -> None:
    records = [{**r, "status": "error"} for r in demo(2)]  # status error without an error object
    records[1].pop("error", None)
    file = _write(tmp_path / "calls.jsonl", [json.dumps(r) for r in records])

    result = invoke("send", str(file), "--api-key", "k")

    assert result.exit_code == 2, result.output
    assert "0 accepted, 2 rejected" in result.stdout
    assert "line 1: record: Value error, a call with status 'error' needs an 'error' object" in result.stdout
    assert "line 2: " in result.stdout


def test_a_line_that_is_not_json_stops_before_anything_is_sent(
    invoke: Invoke, fake: FakePlatform, demo: Demo, tmp_path: Path
) -> None:
    good = json.dumps(demo(1)[0])
    file = _write(tmp_path / "calls.jsonl", [good, good, '{"call_id": "x",', "[1, 2]", '{"latency_ms": NaN}'])

    result = invoke("send", str(file), "--api-key", "k")

    assert result.exit_code == 2
    assert "3 line(s) are not JSON objects (line 3, 4, 5); nothing was sent" in result.stderr
    assert "line 3: not JSON: Expecting property name enclosed in double quotes at column 17" in result.stderr
    assert "line 4: a JSON list, not an object" in result.stderr
    assert "line 5: NaN is not valid JSON" in result.stderr
    assert fake.requests == []


def test_an_api_error_mid_way_says_what_was_sent_and_exits_1(
    invoke: Invoke, fake: FakePlatform, demo: Demo, tmp_path: Path
) -> None:
    file = _write(tmp_path / "calls.jsonl", [json.dumps(r) for r in demo(6)])

    def second_batch_unavailable(request: httpx.Request) -> httpx.Response:
        if len(fake.requests) == 2:
            return problem(503, "Kafka did not acknowledge in time", retry_after_s=5)
        return fake.route(request)

    fake.override = second_batch_unavailable
    result = invoke("send", str(file), "--batch-size", "2", "--api-key", "k")

    assert result.exit_code == 1
    assert "POST /v1/calls: 503 Kafka did not acknowledge in time" in result.stderr
    assert "2 accepted and 0 rejected before it; nothing sent from line 3 on" in result.stderr


def test_a_missing_key_is_a_clear_error(invoke: Invoke, fake: FakePlatform, demo: Demo, tmp_path: Path) -> None:
    file = _write(tmp_path / "calls.jsonl", [json.dumps(demo(1)[0])])
    fake.override = lambda request: problem(401, "missing API key")

    result = invoke("send", str(file))

    assert result.exit_code == 1
    assert "error: POST /v1/calls: 401 missing API key (pass --api-key, set LLMOPS_API_KEY" in result.stderr
    assert "authorization" not in fake.requests[0].headers
    assert "Traceback" not in result.output


def test_an_empty_file_sends_nothing(invoke: Invoke, fake: FakePlatform, tmp_path: Path) -> None:
    result = invoke("send", str(_write(tmp_path / "empty.jsonl", ["", "  "])), "--api-key", "k")

    assert result.exit_code == 0
    assert "no records, nothing to send" in result.stdout
    assert fake.requests == []
