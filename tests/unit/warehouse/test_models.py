"""Query models: validation, window normalisation, cursors, and CallRow staying in step with the contract."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from llmops_schemas.v2 import CallRecorded
from llmops_warehouse.models import (
    EPOCH,
    CallQuery,
    CallRow,
    Cursor,
    InvalidCursorError,
    MetricsQuery,
    SummaryRow,
    TimeseriesQuery,
    canonical_event_id,
    ceil_minute,
    datetime_from_ms,
    epoch_ms,
    event_id_int,
    floor_minute,
)
from pydantic import ValidationError

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def test_call_row_carries_every_call_recorded_field() -> None:
    missing = set(CallRecorded.model_fields) - set(CallRow.model_fields)
    assert not missing, f"CallRow lacks {missing}: store them (new migration) and add them to CallRow"
    assert {"event_id", "tenant_id", "received_at", "ingested_at"} <= set(CallRow.model_fields)


def test_cursor_round_trip() -> None:
    cursor = Cursor(started_at_ms=1_764_000_000_123, event_id="0190F2F4-0000-7000-8000-000000000001")
    token = cursor.encode()
    assert "=" not in token and "/" not in token and "+" not in token
    decoded = Cursor.decode(token)
    assert decoded.started_at_ms == cursor.started_at_ms
    assert decoded.event_id == "0190f2f4-0000-7000-8000-000000000001"


def test_decoded_cursor_of_query() -> None:
    assert CallQuery(tenant_id="acme").decoded_cursor() is None
    with pytest.raises(InvalidCursorError):
        CallQuery(tenant_id="acme", cursor="%%%").decoded_cursor()


def test_call_query_validation() -> None:
    assert CallQuery(tenant_id="acme").limit == 100
    for bad in ({"limit": 0}, {"limit": 1001}, {"text": ""}, {"status": "weird"}, {"app": ""}):
        with pytest.raises(ValidationError):
            CallQuery(tenant_id="acme", **bad)
    with pytest.raises(ValidationError):
        CallQuery(tenant_id="Not A Tenant")
    with pytest.raises(ValidationError, match="end must be after start"):
        CallQuery(tenant_id="acme", start=T0, end=T0)
    with pytest.raises(ValidationError):
        CallQuery(tenant_id="acme", start=datetime(2026, 1, 1))  # naive datetimes are refused


def test_call_query_equality_filters() -> None:
    q = CallQuery(tenant_id="acme", app="chat", status="error", text="x")
    assert q.equality_filters() == {"app": "chat", "status": "error"}


def test_metrics_window_is_widened_to_whole_minutes_in_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    q = MetricsQuery(
        tenant_id="acme",
        start=datetime(2026, 11, 28, 12, 0, 59, 999_000, tzinfo=plus2),
        end=datetime(2026, 11, 28, 12, 5, 0, 1, tzinfo=plus2),
    )
    assert q.start == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert q.end == datetime(2026, 11, 28, 10, 6, tzinfo=UTC)
    assert q.start.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError, match="end must be after start"):
        MetricsQuery(tenant_id="acme", start=T0, end=T0)
    with pytest.raises(ValidationError):
        MetricsQuery(tenant_id="acme", start=T0, end=T0 + timedelta(hours=1), group_by="user")


def test_timeseries_buckets() -> None:
    q = TimeseriesQuery(tenant_id="acme", start=T0, end=T0 + timedelta(minutes=61), step_seconds=600)
    assert q.bucket_count == 7
    assert q.bucket_start(T0 + timedelta(minutes=19, seconds=59)) == T0 + timedelta(minutes=10)
    with pytest.raises(ValidationError, match="more than 2000"):
        TimeseriesQuery(tenant_id="acme", start=T0, end=T0 + timedelta(days=2), step_seconds=60)
    with pytest.raises(ValueError, match="multiple of 60"):
        TimeseriesQuery(tenant_id="acme", start=T0, end=T0 + timedelta(hours=1), step_seconds=61)


def test_time_helpers() -> None:
    t = datetime(2026, 11, 28, 10, 0, 0, 999_999, tzinfo=UTC)
    assert epoch_ms(t) % 1000 == 999
    assert datetime_from_ms(epoch_ms(t)) == t.replace(microsecond=999_000)
    assert epoch_ms(datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=UTC)) == -1
    assert floor_minute(datetime(2026, 1, 1, 0, 0, 30)) == datetime(2026, 1, 1, tzinfo=UTC)
    assert ceil_minute(T0) == T0
    assert ceil_minute(T0 + timedelta(microseconds=1)) == T0 + timedelta(minutes=1)


def test_epoch_ms_floors_as_dividing_the_timedelta_does() -> None:
    """The normalised-parts arithmetic equals ``(value - EPOCH) // 1 ms`` at any offset, before 1970 too."""
    rng = random.Random(7)
    for _ in range(5_000):
        offset = timezone(timedelta(minutes=rng.randint(-1439, 1439)))
        value = (EPOCH + timedelta(microseconds=rng.randint(-(10**16), 10**16))).astimezone(offset)
        assert epoch_ms(value) == (value - EPOCH) // timedelta(milliseconds=1)


def test_metrics_compute() -> None:
    row = SummaryRow.compute(4, 1, 10, 5, 15, [float("nan")] * 3, group="chat")
    assert (row.error_rate, row.latency_p50_ms, row.group) == (0.25, 0.0, "chat")
    assert SummaryRow.compute(0, 0, 0, 0, 0, [1.0, 2.0, 3.0]).error_rate == 0.0


@pytest.mark.parametrize(
    "spelling",
    [
        "0192f3a4-5b6c-7d8e-9f01-23456789abcd",  # canonical: the fast path
        "0192F3A4-5B6C-7D8E-9F01-23456789ABCD",
        "{0192f3a4-5b6c-7d8e-9f01-23456789abcd}",
        "urn:uuid:0192f3a4-5b6c-7d8e-9f01-23456789abcd",
        "0192f3a45b6c7d8e9f0123456789abcd",
    ],
)
def test_event_ids_read_as_uuid_reads_them(spelling: str) -> None:
    assert event_id_int(spelling) == uuid.UUID(spelling).int
    assert canonical_event_id(spelling) == str(uuid.UUID(spelling))


@pytest.mark.parametrize(
    "bad", ["", "not-a-uuid", "0192f3a4-5b6c-7d8e-9f01-23456789abcg", "0192f3a4-5b6c-7d8e-9f01-23456789abcd0"]
)
def test_an_event_id_that_is_no_uuid_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        event_id_int(bad)
    with pytest.raises(ValueError):
        canonical_event_id(bad)
