"""The behaviour every EventStore must have, as one test suite run against each implementation.

Subclass :class:`EventStoreContract` and provide a ``store`` fixture: test_memory_store.py runs it on the
in-memory fake, tests/integration/warehouse/test_clickhouse_store.py on ClickHouse (chDB), so the fake
cannot drift from the real store. Each test uses fresh tenant ids, so stores may be shared between tests.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.ids import new_uuid7
from llmops_schemas.v1.calls import CallError, CallParameters, ExperimentRef
from llmops_schemas.v1.common import PromptRef
from llmops_schemas.v1.examples import example_data
from llmops_schemas.v1.prompts import PromptVersionPublished
from llmops_schemas.v2 import CallRecorded, ChatMessage, Choice, EvaluationScored, TokenUsage
from llmops_warehouse.adapters.memory_store import clickhouse_uuid_key, linear_quantiles
from llmops_warehouse.events import EventQuery, StoredEvent, tombstone_id
from llmops_warehouse.models import (
    CallQuery,
    CallRow,
    InvalidCursorError,
    InvalidEventError,
    MetricsQuery,
    TimeseriesQuery,
    epoch_ms,
)
from llmops_warehouse.ports import EventStore

# Recent enough to stay inside the 90-day retention, whole hour so minute buckets are predictable.
BASE = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"


def make_event(
    tenant_id: str,
    *,
    started_at: datetime | None = None,
    call_id: str | None = None,
    event_id: str | None = None,
    app: str = "chat",
    model: str = "gpt-4o",
    provider: str = "openai",
    environment: str = "production",
    status: str = "ok",
    latency_ms: float = 100.0,
    usage: tuple[int, int] | None = (10, 5),
    content: str = "Hello there",
    output: str | None = "General Kenobi",
    finish_reason: str | None = None,
    key_id: str | None = None,
    source: str = "tests/warehouse",
    **fields: Any,
) -> CloudEvent[CallRecorded]:
    """A valid call.recorded (v2) event; ``output`` and ``finish_reason`` make its one choice (none when both
    are None); ``fields`` override payload fields."""
    payload: dict[str, Any] = {
        "call_id": call_id or f"call-{uuid.uuid4().hex}",
        "app": app,
        "environment": environment,
        "model": model,
        "provider": provider,
        "messages": [ChatMessage(role="user", content=content)],
        "choices": [Choice(output=output, finish_reason=finish_reason)]
        if output is not None or finish_reason is not None
        else [],
        "started_at": started_at or BASE,
        "latency_ms": latency_ms,
        "status": status,
        "usage": None
        if usage is None
        else TokenUsage(prompt_tokens=usage[0], completion_tokens=usage[1], total_tokens=sum(usage)),
        "error": CallError(type="RateLimit", message="slow down") if status == "error" else None,
    }
    payload.update(fields)
    return CloudEvent.wrap(
        CallRecorded(**payload), source=source, tenant_id=tenant_id, event_id=event_id or new_uuid7(), key_id=key_id
    )


def all_calls(store: EventStore, tenant_id: str, **filters: Any) -> list[CallRow]:
    return store.list_calls(CallQuery(tenant_id=tenant_id, limit=1000, **filters)).items


def ids(rows: list[CallRow]) -> set[str]:
    return {row.event_id for row in rows}


def score_event(tenant_id: str, *, at: datetime = BASE, event_id: str | None = None, **fields: Any) -> StoredEvent:
    """A stored ``evaluation.scored`` event (table ``evaluation_scores``); ``fields`` override the payload."""
    payload = EvaluationScored.model_validate({**example_data(EvaluationScored), **fields})
    event = CloudEvent.wrap(payload, source="//llmops/evaluation", tenant_id=tenant_id, event_id=event_id, key_id="k1")
    return StoredEvent.of("evaluation_scores", event.model_copy(update={"time": at}))


def prompt_tombstone(tenant_id: str, name: str, version: int, offset: int) -> StoredEvent:
    """The delete marker of ``<tenant>:<name>:<version>`` on the prompts topic."""
    return StoredEvent(
        table="prompt_versions",
        event_id=tombstone_id(PromptVersionPublished.topic, 0, offset),
        tenant_id=tenant_id,
        event_type=PromptVersionPublished.event_type,
        time_ms=epoch_ms(BASE + timedelta(minutes=5)),
        record_key=f"{tenant_id}:{name}:{version}",
    )


def read(store: EventStore, tenant_id: str, table: str = "evaluation_scores", **fields: Any) -> list[Any]:
    return store.read_events(EventQuery(tenant_id=tenant_id, table=table, limit=1000, **fields)).items


class EventStoreContract:
    """Shared behaviour of EventStore implementations; subclasses provide the ``store`` fixture."""

    @pytest.fixture
    def store(self) -> EventStore:  # pragma: no cover - always overridden
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------ inserts

    def test_is_a_call_store(self, store: EventStore) -> None:
        assert isinstance(store, EventStore)
        assert store.ping() is True

    def test_insert_returns_rows_written(self, store: EventStore) -> None:
        tenant = new_tenant()
        assert store.insert_calls([]) == 0
        assert store.insert_calls([make_event(tenant) for _ in range(3)]) == 3
        assert len(all_calls(store, tenant)) == 3

    def test_redelivered_events_are_stored_once(self, store: EventStore) -> None:
        tenant = new_tenant()
        events = [make_event(tenant, started_at=BASE + timedelta(seconds=i)) for i in range(5)]
        assert store.insert_calls(events) == 5
        assert store.insert_calls(events) == 0
        assert store.insert_calls(list(reversed(events[2:]))) == 0
        rows = all_calls(store, tenant)
        assert len(rows) == 5
        assert ids(rows) == {e.id for e in events}

    def test_duplicates_within_a_batch_are_stored_once(self, store: EventStore) -> None:
        tenant = new_tenant()
        a, b = make_event(tenant), make_event(tenant)
        assert store.insert_calls([a, b, a, a, b]) == 2
        assert len(all_calls(store, tenant)) == 2

    def test_partly_redelivered_batch_writes_only_new_events(self, store: EventStore) -> None:
        tenant = new_tenant()
        a, b, c = (make_event(tenant, started_at=BASE + timedelta(minutes=i)) for i in range(3))
        assert store.insert_calls([a, b]) == 2
        assert store.insert_calls([b, c]) == 1
        assert ids(all_calls(store, tenant)) == {a.id, b.id, c.id}

    def test_redelivery_never_double_counts_in_metrics(self, store: EventStore) -> None:
        tenant = new_tenant()
        events = [make_event(tenant, started_at=BASE + timedelta(seconds=10 * i), usage=(3, 2)) for i in range(4)]
        store.insert_calls(events)
        store.insert_calls(events)
        store.insert_calls(events[:2] + events[:2])
        [row] = store.summary(MetricsQuery(tenant_id=tenant, start=BASE, end=BASE + timedelta(hours=1)))
        assert (row.calls, row.total_tokens) == (4, 20)
        points = store.timeseries(TimeseriesQuery(tenant_id=tenant, start=BASE, end=BASE + timedelta(hours=1)))
        assert sum(p.calls for p in points) == 4

    def test_same_event_id_in_two_tenants_is_two_calls(self, store: EventStore) -> None:
        shared = new_uuid7()
        a, b = new_tenant(), new_tenant()
        assert store.insert_calls([make_event(a, event_id=shared), make_event(b, event_id=shared)]) == 2
        assert len(all_calls(store, a)) == len(all_calls(store, b)) == 1

    def test_event_id_that_is_no_uuid_is_rejected_before_writing(self, store: EventStore) -> None:
        tenant = new_tenant()
        good, bad = make_event(tenant), make_event(tenant, event_id="not-a-uuid")
        with pytest.raises(InvalidEventError) as info:
            store.insert_calls([good, bad])
        assert info.value.event_ids == ["not-a-uuid"]
        assert isinstance(info.value, ValueError)
        assert all_calls(store, tenant) == []

    def test_stored_call_round_trips_every_field(self, store: EventStore) -> None:
        tenant = new_tenant()
        started = datetime(BASE.year, BASE.month, BASE.day, 9, 30, 15, 123_456, tzinfo=timezone(timedelta(hours=2)))
        event = make_event(
            tenant,
            call_id="order-42:retry/1",
            started_at=started,
            trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
            user_id="user@example.com",
            session_id="sess-1",
            environment="staging",
            messages=[
                ChatMessage(role="system", content="You are terse. «Ünïcödé» 🚀"),
                ChatMessage(role="user", content='Say "hi"\n\ton two lines', name="alice"),
                ChatMessage(role="tool", content="", tool_call_id="tool-1"),
            ],
            output="",
            finish_reason="stop",
            parameters=CallParameters(
                temperature=0.7, max_tokens=256, stop=["\n\n"], seed=7, extra={"a": [1, {"b": None}]}
            ),
            usage=(1_000_000, 2),
            time_to_first_token_ms=12.5,
            latency_ms=345.678,
            status="error",
            error=CallError(type="Timeout", message="took too long", code="504"),
            prompt=PromptRef(name="greeter", version=3, label="prod"),
            experiment=ExperimentRef(experiment_id="exp-1", variant="B", shadow=True),
            tags=["a", "b"],
            metadata={"region": "eu", "empty": ""},
            origin="platform",
            source="//llmops/inference",
            key_id="judge-key",
        )
        before = datetime.now(UTC) - timedelta(seconds=1)
        store.insert_calls([event])
        after = datetime.now(UTC) + timedelta(seconds=1)
        stored = store.get_call(tenant, "order-42:retry/1")
        assert stored is not None
        expected = CallRow.from_event(event, ingested_at=stored.ingested_at)
        assert stored == expected
        assert stored.started_at == datetime(BASE.year, BASE.month, BASE.day, 7, 30, 15, 123_000, tzinfo=UTC)
        assert stored.started_at.utcoffset() == timedelta(0)
        assert before <= stored.ingested_at <= after
        assert stored.event_id == event.id
        assert (stored.origin, stored.source, stored.key_id) == ("platform", "//llmops/inference", "judge-key")

    def test_minimal_call_round_trips(self, store: EventStore) -> None:
        tenant = new_tenant()
        event = make_event(tenant, usage=None, output=None)
        store.insert_calls([event])
        stored = store.get_call(tenant, event.data.call_id)
        assert stored is not None
        assert stored == CallRow.from_event(event, ingested_at=stored.ingested_at)
        assert stored.usage is None and stored.output is None and stored.trace_id is None
        assert stored.parameters == CallParameters()
        assert (stored.origin, stored.source, stored.key_id) == ("application", "tests/warehouse", None)

    def test_get_call_unknown_or_other_tenant_is_none(self, store: EventStore) -> None:
        a, b = new_tenant(), new_tenant()
        event = make_event(a, call_id="shared-call")
        store.insert_calls([event])
        assert store.get_call(a, "missing") is None
        assert store.get_call(b, "shared-call") is None

    def test_get_call_returns_the_latest_of_a_repeated_call_id(self, store: EventStore) -> None:
        tenant = new_tenant()
        old = make_event(tenant, call_id="dup", started_at=BASE)
        new = make_event(tenant, call_id="dup", started_at=BASE + timedelta(seconds=1))
        store.insert_calls([new, old])
        found = store.get_call(tenant, "dup")
        assert found is not None and found.event_id == new.id

    # ------------------------------------------------------------------------------------------ isolation

    def test_tenants_never_see_each_other(self, store: EventStore) -> None:
        a, b = new_tenant(), new_tenant()
        events_a = [make_event(a, content="secret of a") for _ in range(3)]
        events_b = [make_event(b) for _ in range(2)]
        store.insert_calls(events_a + events_b)
        assert ids(all_calls(store, b)) == {e.id for e in events_b}
        assert all_calls(store, b, text="secret") == []
        window = {"start": BASE - timedelta(hours=1), "end": BASE + timedelta(hours=1)}
        [summary_b] = store.summary(MetricsQuery(tenant_id=b, **window))
        assert summary_b.calls == 2
        assert store.summary(MetricsQuery(tenant_id=new_tenant(), **window)) == []
        assert store.timeseries(TimeseriesQuery(tenant_id=new_tenant(), **window)) == []
        for event in events_a:
            assert store.get_call(b, event.data.call_id) is None

    # ------------------------------------------------------------------------------------------ filters

    def test_equality_filters(self, store: EventStore) -> None:
        tenant = new_tenant()
        e1 = make_event(tenant, app="chat", model="gpt-4o", user_id="u1", session_id="s1", trace_id="tr1")
        e2 = make_event(tenant, app="chat", model="claude", environment="staging", status="error")
        e3 = make_event(tenant, app="search", model="gpt-4o", user_id="u2")
        store.insert_calls([e1, e2, e3])
        assert ids(all_calls(store, tenant, app="chat")) == {e1.id, e2.id}
        assert ids(all_calls(store, tenant, model="gpt-4o")) == {e1.id, e3.id}
        assert ids(all_calls(store, tenant, app="chat", model="gpt-4o")) == {e1.id}
        assert ids(all_calls(store, tenant, status="error")) == {e2.id}
        assert ids(all_calls(store, tenant, status="ok")) == {e1.id, e3.id}
        assert ids(all_calls(store, tenant, environment="staging")) == {e2.id}
        assert ids(all_calls(store, tenant, user_id="u2")) == {e3.id}
        assert ids(all_calls(store, tenant, session_id="s1")) == {e1.id}
        assert ids(all_calls(store, tenant, trace_id="tr1")) == {e1.id}
        assert all_calls(store, tenant, app="nope") == []

    def test_time_window_is_start_inclusive_end_exclusive(self, store: EventStore) -> None:
        tenant = new_tenant()
        events = [make_event(tenant, started_at=BASE + timedelta(minutes=i)) for i in range(5)]
        store.insert_calls(events)
        rows = all_calls(store, tenant, start=BASE + timedelta(minutes=1), end=BASE + timedelta(minutes=3))
        assert ids(rows) == {events[1].id, events[2].id}
        assert ids(all_calls(store, tenant, start=BASE + timedelta(minutes=4))) == {events[4].id}
        assert ids(all_calls(store, tenant, end=BASE + timedelta(milliseconds=1))) == {events[0].id}

    def test_text_search_is_case_insensitive_over_messages_and_output(self, store: EventStore) -> None:
        tenant = new_tenant()
        e1 = make_event(tenant, content="What is the Capital of France?", output="Paris")
        e2 = make_event(tenant, content="Tell me a joke", output="Why did the CHICKEN cross the road?")
        e3 = make_event(
            tenant,
            messages=[
                ChatMessage(role="system", content="be nice"),
                ChatMessage(role="user", content="Grüße aus Köln"),
            ],
            output=None,
        )
        store.insert_calls([e1, e2, e3])
        assert ids(all_calls(store, tenant, text="capital of")) == {e1.id}
        assert ids(all_calls(store, tenant, text="PARIS")) == {e1.id}
        assert ids(all_calls(store, tenant, text="chicken")) == {e2.id}
        assert ids(all_calls(store, tenant, text="aus Köln")) == {e3.id}
        assert ids(all_calls(store, tenant, text="be nice")) == {e3.id}
        assert ids(all_calls(store, tenant, text="the")) == {e1.id, e2.id}
        assert all_calls(store, tenant, text="Berlin") == []
        # Only message contents are searched, never the message structure (roles, keys).
        assert all_calls(store, tenant, text="system") == []
        assert all_calls(store, tenant, text="role") == []

    def test_text_search_treats_like_metacharacters_literally(self, store: EventStore) -> None:
        tenant = new_tenant()
        pct = make_event(tenant, content="a discount of 50% today")
        under = make_event(tenant, content="call snake_case here")
        slash = make_event(tenant, content="path C:\\temp\\x")
        plain = make_event(tenant, content="50 percent, snakeXcase, C:/temp")
        store.insert_calls([pct, under, slash, plain])
        assert ids(all_calls(store, tenant, text="50%")) == {pct.id}
        assert ids(all_calls(store, tenant, text="snake_case")) == {under.id}
        assert ids(all_calls(store, tenant, text="c:\\temp")) == {slash.id}
        assert ids(all_calls(store, tenant, text="%")) == {pct.id}
        assert ids(all_calls(store, tenant, text="'")) == set()

    def test_text_search_combines_with_filters(self, store: EventStore) -> None:
        tenant = new_tenant()
        e1 = make_event(tenant, app="chat", content="refund please")
        e2 = make_event(tenant, app="support", content="refund please")
        store.insert_calls([e1, e2])
        assert ids(all_calls(store, tenant, text="REFUND", app="support")) == {e2.id}

    # ------------------------------------------------------------------------------------------ pagination

    def test_cursor_pagination_visits_every_row_once_newest_first(self, store: EventStore) -> None:
        tenant = new_tenant()
        # Groups of five calls share a started_at, so ties must be broken by event id consistently.
        events = [make_event(tenant, started_at=BASE + timedelta(seconds=i // 5)) for i in range(250)]
        store.insert_calls(events[:100])
        store.insert_calls(events[100:180])
        store.insert_calls(events[180:])
        seen: list[CallRow] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = store.list_calls(CallQuery(tenant_id=tenant, limit=40, cursor=cursor))
            pages += 1
            seen.extend(page.items)
            if page.next_cursor is None:
                break
            assert len(page.items) == 40
            cursor = page.next_cursor
        assert pages == 7
        assert len(seen) == 250
        assert ids(seen) == {e.id for e in events}
        keys = [(epoch_ms(r.started_at), clickhouse_uuid_key(r.event_id)) for r in seen]
        assert keys == sorted(keys, reverse=True)
        assert len(set(keys)) == 250
        assert [r.event_id for r in seen] == [r.event_id for r in all_calls(store, tenant)]

    def test_page_of_exactly_limit_rows_has_no_next_cursor(self, store: EventStore) -> None:
        tenant = new_tenant()
        store.insert_calls([make_event(tenant, started_at=BASE + timedelta(seconds=i)) for i in range(10)])
        page = store.list_calls(CallQuery(tenant_id=tenant, limit=10))
        assert len(page.items) == 10 and page.next_cursor is None
        first = store.list_calls(CallQuery(tenant_id=tenant, limit=9))
        assert first.next_cursor is not None
        last = store.list_calls(CallQuery(tenant_id=tenant, limit=9, cursor=first.next_cursor))
        assert len(last.items) == 1 and last.next_cursor is None

    def test_cursor_keeps_filters_stable(self, store: EventStore) -> None:
        tenant = new_tenant()
        events = [
            make_event(tenant, app="a" if i % 2 else "b", started_at=BASE + timedelta(seconds=i)) for i in range(30)
        ]
        store.insert_calls(events)
        first = store.list_calls(CallQuery(tenant_id=tenant, app="a", limit=10))
        second = store.list_calls(CallQuery(tenant_id=tenant, app="a", limit=10, cursor=first.next_cursor))
        assert second.next_cursor is None
        assert {r.app for r in first.items + second.items} == {"a"}
        assert len(ids(first.items + second.items)) == 15

    @pytest.mark.parametrize(
        "cursor",
        [
            "garbage!",
            "",
            base64.urlsafe_b64encode(b"not json").decode(),
            base64.urlsafe_b64encode(b'[1, "x", "y"]').decode(),
            base64.urlsafe_b64encode(b'[2, 1, "0190f2f4-0000-7000-8000-000000000000"]').decode(),
            base64.urlsafe_b64encode(b'[1, 1, "not-a-uuid"]').decode(),
            base64.urlsafe_b64encode(b"{}").decode(),
        ],
    )
    def test_invalid_cursor_is_a_value_error(self, store: EventStore, cursor: str) -> None:
        with pytest.raises(InvalidCursorError, match="invalid cursor"):
            store.list_calls(CallQuery(tenant_id=new_tenant(), cursor=cursor))
        assert issubclass(InvalidCursorError, ValueError)

    # ------------------------------------------------------------------------------------------ metrics

    def _metrics_fixture(self, store: EventStore) -> tuple[str, list[CloudEvent[CallRecorded]]]:
        tenant = new_tenant()
        events = []
        # chat/gpt-4o: 10 calls over minutes 0..9, latencies 10..100, two errors, usage (i, 2i).
        for i in range(10):
            events.append(
                make_event(
                    tenant,
                    app="chat",
                    model="gpt-4o",
                    started_at=BASE + timedelta(minutes=i, seconds=30),
                    latency_ms=10.0 * (i + 1),
                    status="error" if i in (3, 7) else "ok",
                    usage=(i, 2 * i),
                )
            )
        # search/claude: 4 calls at minute 12, one without usage.
        for i in range(4):
            events.append(
                make_event(
                    tenant,
                    app="search",
                    model="claude",
                    started_at=BASE + timedelta(minutes=12, seconds=i),
                    latency_ms=1000.0 + i,
                    usage=None if i == 0 else (100, 1),
                )
            )
        # chat/claude: 1 call at minute 25; and one call outside every window below.
        events.append(make_event(tenant, app="chat", model="claude", started_at=BASE + timedelta(minutes=25)))
        events.append(make_event(tenant, app="chat", model="gpt-4o", started_at=BASE + timedelta(hours=2)))
        store.insert_calls(events)
        return tenant, events

    def test_summary_without_grouping(self, store: EventStore) -> None:
        tenant, _ = self._metrics_fixture(store)
        [row] = store.summary(MetricsQuery(tenant_id=tenant, start=BASE, end=BASE + timedelta(hours=1)))
        assert row.group is None
        assert row.calls == 15
        assert row.errors == 2
        assert row.error_rate == pytest.approx(2 / 15)
        assert row.prompt_tokens == sum(range(10)) + 3 * 100 + 10
        assert row.completion_tokens == 2 * sum(range(10)) + 3 * 1 + 5
        assert row.total_tokens == row.prompt_tokens + row.completion_tokens
        latencies = [10.0 * (i + 1) for i in range(10)] + [1000.0, 1001.0, 1002.0, 1003.0, 100.0]
        p50, p95, p99 = linear_quantiles(latencies)
        assert row.latency_p50_ms == pytest.approx(p50, rel=0.02)
        assert row.latency_p95_ms == pytest.approx(p95, rel=0.02)
        assert row.latency_p99_ms == pytest.approx(p99, rel=0.02)

    def test_summary_grouped_by_app_and_model(self, store: EventStore) -> None:
        tenant, _ = self._metrics_fixture(store)
        window = {"start": BASE, "end": BASE + timedelta(hours=1)}
        by_app = store.summary(MetricsQuery(tenant_id=tenant, group_by="app", **window))
        assert [(r.group, r.calls, r.errors) for r in by_app] == [("chat", 11, 2), ("search", 4, 0)]
        search = by_app[1]
        assert (search.prompt_tokens, search.completion_tokens, search.total_tokens) == (300, 3, 303)
        assert search.error_rate == 0.0
        assert search.latency_p50_ms == pytest.approx(1001.5, rel=0.01)
        by_model = store.summary(MetricsQuery(tenant_id=tenant, group_by="model", **window))
        assert [(r.group, r.calls) for r in by_model] == [("gpt-4o", 10), ("claude", 5)]
        gpt = by_model[0]
        assert gpt.error_rate == pytest.approx(0.2)
        assert gpt.latency_p50_ms == pytest.approx(55.0, rel=0.02)
        assert gpt.latency_p99_ms == pytest.approx(99.1, rel=0.02)

    def test_summary_filters_and_window(self, store: EventStore) -> None:
        tenant, _ = self._metrics_fixture(store)
        window = {"start": BASE, "end": BASE + timedelta(hours=1)}
        [chat] = store.summary(MetricsQuery(tenant_id=tenant, app="chat", **window))
        assert chat.calls == 11
        [chat_claude] = store.summary(MetricsQuery(tenant_id=tenant, app="chat", model="claude", **window))
        assert chat_claude.calls == 1
        assert store.summary(MetricsQuery(tenant_id=tenant, environment="staging", **window)) == []
        # Minute resolution: the window is widened to whole minutes (minute 9's call at 9:30 is in).
        [head] = store.summary(
            MetricsQuery(
                tenant_id=tenant, start=BASE + timedelta(seconds=59), end=BASE + timedelta(minutes=9, seconds=1)
            )
        )
        assert head.calls == 10
        [tail] = store.summary(
            MetricsQuery(tenant_id=tenant, start=BASE + timedelta(minutes=10), end=BASE + timedelta(hours=3))
        )
        assert tail.calls == 6

    def test_timeseries_buckets(self, store: EventStore) -> None:
        tenant, _ = self._metrics_fixture(store)
        q = TimeseriesQuery(tenant_id=tenant, start=BASE, end=BASE + timedelta(hours=1), step_seconds=600)
        points = store.timeseries(q)
        assert [(p.bucket_start - BASE, p.calls, p.errors) for p in points] == [
            (timedelta(0), 10, 2),
            (timedelta(minutes=10), 4, 0),
            (timedelta(minutes=20), 1, 0),
        ]
        assert all(p.group is None for p in points)
        assert points[0].total_tokens == 3 * sum(range(10))
        assert points[0].latency_p50_ms == pytest.approx(55.0, rel=0.02)
        assert all(p.bucket_start.utcoffset() == timedelta(0) for p in points)

    def test_timeseries_grouped_and_aligned_to_start(self, store: EventStore) -> None:
        tenant, _ = self._metrics_fixture(store)
        # Buckets start at the (minute-floored) start: 00:05, 00:20, 00:35, 00:50.
        q = TimeseriesQuery(
            tenant_id=tenant,
            start=BASE + timedelta(minutes=5, seconds=20),
            end=BASE + timedelta(hours=1),
            step_seconds=900,
            group_by="model",
        )
        assert q.start == BASE + timedelta(minutes=5)
        points = store.timeseries(q)
        assert [(p.bucket_start - BASE, p.group, p.calls) for p in points] == [
            (timedelta(minutes=5), "claude", 4),
            (timedelta(minutes=5), "gpt-4o", 5),
            (timedelta(minutes=20), "claude", 1),
        ]

    def test_timeseries_bucket_limits(self, store: EventStore) -> None:
        tenant = new_tenant()
        ok = TimeseriesQuery(tenant_id=tenant, start=BASE, end=BASE + timedelta(minutes=2000), step_seconds=60)
        assert ok.bucket_count == 2000
        assert store.timeseries(ok) == []
        with pytest.raises(ValueError, match="more than 2000"):
            store.timeseries(TimeseriesQuery(tenant_id=tenant, start=BASE, end=BASE + timedelta(minutes=2001)))
        with pytest.raises(ValueError, match="multiple of 60"):
            TimeseriesQuery(tenant_id=tenant, start=BASE, end=BASE + timedelta(hours=1), step_seconds=90)
        with pytest.raises(ValueError):
            TimeseriesQuery(tenant_id=tenant, start=BASE, end=BASE + timedelta(hours=1), step_seconds=30)

    # ------------------------------------------------------------------------------------------ origin, filters

    def test_origin_filter_and_metrics_count_only_the_applications_by_default(self, store: EventStore) -> None:
        tenant = new_tenant()
        app_call = make_event(tenant, started_at=BASE + timedelta(seconds=1))
        judge_call = make_event(tenant, started_at=BASE + timedelta(seconds=2), origin="platform", latency_ms=900.0)
        store.insert_calls([app_call, judge_call])
        assert ids(all_calls(store, tenant)) == {app_call.id, judge_call.id}
        assert ids(all_calls(store, tenant, origin="application")) == {app_call.id}
        assert ids(all_calls(store, tenant, origin="platform")) == {judge_call.id}
        window = {"tenant_id": tenant, "start": BASE, "end": BASE + timedelta(hours=1)}
        [default] = store.summary(MetricsQuery(**window))
        assert (default.calls, default.latency_p99_ms) == (1, 100.0)
        [everything] = store.summary(MetricsQuery(**window, origin="all"))
        assert everything.calls == 2
        [platform] = store.timeseries(TimeseriesQuery(**window, origin="platform", step_seconds=3600))
        assert platform.calls == 1

    def test_call_filters_on_prompt_experiment_and_call_id(self, store: EventStore) -> None:
        tenant = new_tenant()
        a = make_event(tenant, prompt=PromptRef(name="greeter", version=2), experiment=ExperimentRef(
            experiment_id="exp-1", variant="B"))  # fmt: skip
        b = make_event(tenant, prompt=PromptRef(name="greeter", version=3))
        store.insert_calls([a, b, make_event(tenant)])
        assert ids(all_calls(store, tenant, prompt_name="greeter")) == {a.id, b.id}
        assert ids(all_calls(store, tenant, prompt_version=3)) == {b.id}
        assert ids(all_calls(store, tenant, experiment_id="exp-1")) == {a.id}
        assert ids(all_calls(store, tenant, call_id=b.data.call_id)) == {b.id}

    # ------------------------------------------------------------------------------------------ event tables

    def test_events_are_stored_once_and_read_back_with_their_envelope(self, store: EventStore) -> None:
        tenant = new_tenant()
        first, second = score_event(tenant), score_event(tenant, at=BASE + timedelta(minutes=1), call_id="call-tone")
        assert store.insert_events([first, second, first]) == 2
        assert store.insert_events([first, second]) == 0  # redelivery
        newest, oldest = read(store, tenant)
        assert (newest.event_id, oldest.event_id) == (str(second.event_id), str(first.event_id))
        assert newest.type == "llmops.evaluation.scored.v2"
        assert (newest.source, newest.key_id, newest.deleted, newest.time) == (
            "//llmops/evaluation", "k1", False, BASE + timedelta(minutes=1))  # fmt: skip
        assert newest.data is not None and newest.data["call_id"] == "call-tone"
        assert newest.data == second.payload.model_dump(mode="json")

    def test_events_are_tenant_scoped_and_filtered(self, store: EventStore) -> None:
        tenant, other = new_tenant(), new_tenant()
        mine = score_event(tenant, call_id="call-a", app="chat")
        theirs = score_event(other, call_id="call-a", app="chat")
        store.insert_events([mine, theirs, score_event(tenant, call_id="call-b", app="search")])
        assert [r.event_id for r in read(store, tenant, filters={"call_id": "call-a"})] == [str(mine.event_id)]
        assert len(read(store, tenant, filters={"app": "search"})) == 1
        assert read(store, tenant, start=BASE + timedelta(seconds=1)) == []
        assert len(read(store, tenant, start=BASE, end=BASE + timedelta(seconds=1))) == 2

    def test_scores_are_filtered_per_run_and_per_replay(self, store: EventStore) -> None:
        tenant = new_tenant()
        run = score_event(tenant, call_id="c1", run_id="run-1", example_id="ex-1")
        replayed = score_event(tenant, call_id="c1", replay_id="rp-1", at=BASE + timedelta(seconds=1))
        store.insert_events([run, replayed, score_event(tenant, call_id="c1", at=BASE + timedelta(seconds=2))])
        assert [r.event_id for r in read(store, tenant, filters={"run_id": "run-1"})] == [str(run.event_id)]
        assert [r.event_id for r in read(store, tenant, filters={"replay_id": "rp-1"})] == [str(replayed.event_id)]
        assert len(read(store, tenant, filters={"call_id": "c1"})) == 3

    def test_event_pages_visit_every_row_once(self, store: EventStore) -> None:
        tenant = new_tenant()
        events = [score_event(tenant, at=BASE + timedelta(seconds=i // 2)) for i in range(7)]
        store.insert_events(events)
        seen: list[str] = []
        cursor = None
        while True:
            page = store.read_events(EventQuery(tenant_id=tenant, table="evaluation_scores", limit=3, cursor=cursor))
            seen += [row.event_id for row in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert sorted(seen) == sorted(str(e.event_id) for e in events) and len(seen) == 7

    def test_a_tombstone_is_a_delete_marker_row(self, store: EventStore) -> None:
        tenant = new_tenant()
        marker = prompt_tombstone(tenant, "greeter", 2, offset=11)
        assert store.insert_events([marker, marker]) == 1
        assert store.insert_events([marker]) == 0
        [row] = read(store, tenant, "prompt_versions")
        assert (row.deleted, row.data, row.record_key) == (True, None, f"{tenant}:greeter:2")
        assert row.event_id == str(tombstone_id(PromptVersionPublished.topic, 0, 11))

    def test_unknown_tables_and_filters_are_value_errors(self, store: EventStore) -> None:
        tenant = new_tenant()
        with pytest.raises(ValueError, match="no event table"):
            unmapped = StoredEvent(table="nope", event_id=uuid.uuid4(), tenant_id=tenant, event_type="x", time_ms=0)
            store.insert_events([score_event(tenant), unmapped])
        assert read(store, tenant) == []  # nothing of the batch was written
        with pytest.raises(ValueError, match="cannot be filtered"):
            read(store, tenant, "budget_events", filters={"app": "chat"})
