"""JSON logs: one object per line with the service, level and message; credentials never reach the output."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from llmops_kit.auth import generate_key
from llmops_kit.logging import configure_logging, scrub

KEY = generate_key()
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging rewires the root logger; put pytest's handlers back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    named = {n: logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access", "aiokafka")}
    saved_named = {n: (lg.handlers[:], lg.propagate, lg.level) for n, lg in named.items()}
    yield
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    for n, (handlers, propagate, level) in saved_named.items():
        named[n].handlers[:] = handlers
        named[n].propagate = propagate
        named[n].setLevel(level)


def json_lines(out: str) -> list[dict[str, Any]]:
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]


def test_one_json_object_per_line_with_service_level_message(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("ingest", "INFO")
    log = logging.getLogger("llmops.test")
    log.info("first %s", "line")
    log.warning("second\nspans two lines")
    log.debug("below the level: dropped")

    records = json_lines(capsys.readouterr().out)
    assert len(records) == 2
    first, second = records
    assert first["service"] == "ingest"
    assert first["level"] == "INFO"
    assert first["message"] == "first line"
    assert first["logger"] == "llmops.test"
    assert first["time"]
    assert second["level"] == "WARNING"
    assert second["message"] == "second\nspans two lines"


def test_uvicorn_loggers_go_through_the_json_handler(capsys: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("uvicorn.error").addHandler(logging.NullHandler())
    configure_logging("ingest", "INFO")
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    (record,) = json_lines(capsys.readouterr().out)
    assert record["logger"] == "uvicorn.error"
    assert record["service"] == "ingest"


def test_level_is_honoured(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("ingest", "warning")
    logging.getLogger("x").info("quiet")
    logging.getLogger("x").error("loud")
    assert [r["message"] for r in json_lines(capsys.readouterr().out)] == ["loud"]


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        (f"Authorization: Bearer {JWT}", JWT, "Bearer [REDACTED]"),
        (f"authorization: bearer {KEY}", KEY, "bearer [REDACTED]"),
        (f"using key {KEY} for tenant demo", KEY, "using key [REDACTED] for tenant demo"),
        ("connect password=hunter2 host=db", "hunter2", "password=[REDACTED] host=db"),
        ("PASSWORD: hunter2", "hunter2", "PASSWORD: [REDACTED]"),
        ("api_key=abc123def", "abc123def", "api_key=[REDACTED]"),
        ("secret=s3cr3t", "s3cr3t", "secret=[REDACTED]"),
        ("{'password': 'hunter2', 'user': 'bob'}", "hunter2", "'user': 'bob'"),
        ('{"api_key": "abc123def"}', "abc123def", '"api_key"'),
    ],
    ids=["jwt", "key-bearer", "key-in-text", "password", "PASSWORD", "api_key", "secret", "dict", "json"],
)
def test_scrub_removes_credentials(text: str, secret: str, kept: str) -> None:
    scrubbed = scrub(text)
    assert secret not in scrubbed
    assert "[REDACTED]" in scrubbed
    assert kept in scrubbed


def test_scrub_leaves_ordinary_text_alone() -> None:
    text = "consumed 42 events from llmops.calls.recorded in 12 ms (tenant demo)"
    assert scrub(text) == text


def emitted(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_secrets_in_message_and_arguments_are_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("ingest", "DEBUG")
    log = logging.getLogger("llmops.test")
    log.info(f"literal Bearer {KEY}")
    log.info("as an argument: %s", KEY)
    log.info("inside a non-string argument: %s", {"authorization": f"Bearer {KEY}"})
    log.info("in a format string: password=%s", "hunter2")
    log.info("mapping args: %(who)s used %(key)s", {"who": "bob", "key": KEY})

    out = emitted(capsys)
    assert KEY not in out
    assert "hunter2" not in out
    messages = [r["message"] for r in json_lines(out)]
    assert len(messages) == 5, out
    assert messages[3] == "in a format string: password=[REDACTED]"
    assert messages[4] == "mapping args: bob used [REDACTED]"


def test_tracebacks_keep_classes_and_frames_but_no_message_and_extras_are_scrubbed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("ingest", "INFO")
    log = logging.getLogger("llmops.test")
    refused = "upstream refused Authorization: Bearer " + KEY
    try:
        raise ValueError(refused)
    except ValueError:
        log.exception("request failed")
    log.info("with extra", extra={"authorization": f"Bearer {KEY}"})

    out = emitted(capsys)
    assert KEY not in out
    assert "upstream refused" not in out
    failed, extra = json_lines(out)
    assert failed["message"] == "request failed"
    assert failed["exc_info"].endswith("raise ValueError(refused)\nbuiltins.ValueError")
    assert extra["authorization"] == "Bearer [REDACTED]"
