"""A call's features and scope, and a closed window's check as a ``llmops.drift.reported.v2`` event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from llmops_drift import DriftConfig
from llmops_drift_detection.features import Scope, features, scope_of
from llmops_drift_detection.references import References, row_of_stored_call
from llmops_drift_detection.reports import build_report
from llmops_drift_detection.tables import encoded
from llmops_kit.kafka.messages import ConsumedMessage
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import TimeWindow
from llmops_schemas.v2 import DriftReference, DriftReported
from llmops_warehouse.entrypoints.consumer import Router
from llmops_warehouse.events import StoredEvent
from llmops_warehouse.tables import TABLES

from tests.unit.evaluation.calls import call

SCOPE = Scope("acme", "support-bot", "production", "gpt-4o-mini")
SPAN = TimeWindow(start=datetime(2026, 3, 14, 9, tzinfo=UTC), end=datetime(2026, 3, 14, 10, tzinfo=UTC))
REFERENCE = DriftReference(kind="previous_window", window=SPAN)


def _rows(count: int, latency: float = 1.0) -> list[dict[str, object]]:
    return [{"latency_ms": latency * (200 + (i * 37) % 100), "prompt_length": 10 + i % 5, "error": "false",
             "refusal": "false", "language": "en", "model": "gpt-4o-mini"} for i in range(count)]  # fmt: skip


def test_a_call_becomes_numbers_and_categories_without_its_text() -> None:
    event = call(usage={"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}, metadata={"language": "de"})

    row = features(event.data)

    assert row == {"prompt_length": len("Where is my parcel?"), "answer_length": len("Your parcel left the warehouse."),
                   "prompt_tokens": 5, "completion_tokens": 7, "latency_ms": 12.5, "error": "false",
                   "refusal": "false", "language": "de", "model": "gpt-4o-mini"}  # fmt: skip
    assert "parcel" not in json.dumps(row)


def test_an_error_and_a_refusal_are_features() -> None:
    failed = call(status="error", error={"type": "timeout", "message": "upstream timed out"}, choices=[])
    refused = call(choices=[{"output": None, "refusal": "I can't help with that.", "finish_reason": "stop"}])

    assert features(failed.data)["error"] == "true" and "answer_length" not in features(failed.data)
    assert features(refused.data)["refusal"] == "true"


def test_the_scope_names_the_prompt_version() -> None:
    event = call(prompt={"name": "greeting", "version": 3})

    assert scope_of("acme", event.data) == Scope("acme", "support-bot", "production", "gpt-4o-mini", "greeting", 3)


def test_a_shifted_window_drifts_on_the_shifted_feature_only() -> None:
    report = build_report(SCOPE, SPAN, REFERENCE, _rows(200, 2.0), _rows(200), config=DriftConfig(), min_samples=30,
                          include_platform=False)  # fmt: skip

    assert report.dataset_drift is True and report.reason is None
    assert [f.feature for f in report.features if f.drifted] == ["latency_ms"]
    assert report.sample_size == report.baseline_sample_size == 200


def test_too_few_samples_give_no_verdict_and_say_so() -> None:
    report = build_report(SCOPE, SPAN, REFERENCE, _rows(12), _rows(200), config=DriftConfig(), min_samples=30,
                          include_platform=False)  # fmt: skip

    assert report.dataset_drift is None
    assert report.reason == "too few samples: 12 calls in the window, 200 in the reference (minimum 30)"


def test_the_first_window_has_no_reference_and_says_so() -> None:
    report = build_report(SCOPE, SPAN, REFERENCE, _rows(200), [], config=DriftConfig(), min_samples=30,
                          include_platform=False)  # fmt: skip

    assert report.dataset_drift is None and report.reason == "no reference yet: this is the scope's first window"


def test_the_same_window_and_reference_give_the_same_report_id() -> None:
    args = (SCOPE, SPAN, REFERENCE, _rows(50), _rows(50))
    first = build_report(*args, config=DriftConfig(), min_samples=30, include_platform=False)
    again = build_report(*args, config=DriftConfig(), min_samples=30, include_platform=False)

    assert first.report_id == again.report_id


def test_the_report_event_has_a_uuid_id_that_the_warehouse_stores() -> None:
    # The service publishes the report under its report id (stream.py): the warehouse keys rows by UUID and
    # dead-letters any other id, so a non-UUID id lost every streaming report.
    report = build_report(SCOPE, SPAN, REFERENCE, _rows(50), _rows(50), config=DriftConfig(), min_samples=30,
                          include_platform=False)  # fmt: skip
    event = CloudEvent.wrap(report, source="/services/drift-detection", tenant_id="acme", event_id=report.report_id)
    record = ConsumedMessage(DriftReported.topic, 0, 0, b"acme", event.to_json_bytes(), (), 0)

    stored = Router(tables=tuple(TABLES), compacted=frozenset()).decode(record)

    assert uuid.UUID(report.report_id).version == 5
    assert isinstance(stored, StoredEvent) and stored.event_id == uuid.UUID(report.report_id)


async def test_the_previous_window_rolls_and_a_pinned_one_stays() -> None:
    table: dict[object, object] = {}
    rolling, pinned = References("previous_window", 30), References("pinned_window", 30)
    first = rolling.after_close(SCOPE, SPAN, _rows(40), table)
    assert first is not None
    table[encoded(SCOPE.encode())] = json.loads(json.dumps(first))  # as faust's store recovers it: a bytes key

    reference, rows = await rolling.reference(SCOPE, SPAN, table)
    assert reference.kind == "previous_window" and reference.window == SPAN and len(rows) == 40
    assert rolling.after_close(SCOPE, SPAN, _rows(10), table) is None  # too few calls to be a reference
    assert rolling.after_close(SCOPE, SPAN, _rows(40), table) is not None
    assert pinned.after_close(SCOPE, SPAN, _rows(40), table) is None  # the pinned reference stays


def test_a_stored_call_has_the_features_of_a_streamed_one() -> None:
    event = call(usage={"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12})
    stored = json.loads(event.data.model_dump_json())

    assert row_of_stored_call(stored) == features(event.data) | {"language": "unknown"}


class _Reader:
    """The warehouse reader's ``calls`` (paginated there), over stored call records."""

    def __init__(self, records: list[dict[str, object]]) -> None:
        self.records, self.asked = records, []  # type: ignore[var-annotated]

    async def calls(self, tenant: str, **filters: object):  # type: ignore[no-untyped-def]
        self.asked.append((tenant, filters))
        for record in self.records:
            yield record


async def test_a_pinned_dataset_is_read_once_per_scope_from_the_warehouse() -> None:
    stored = [json.loads(call(call_id=f"c-{i}").data.model_dump_json()) for i in range(50)]
    reader = _Reader(stored)
    period = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC))
    references = References("dataset", 30, reader=reader, period=period, max_calls=40)  # type: ignore[arg-type]

    reference, rows = await references.reference(SCOPE, SPAN, {})
    again, _ = await references.reference(SCOPE, SPAN, {})

    assert reference.kind == "dataset" and reference.dataset_id == again.dataset_id and len(rows) == 40
    assert reader.asked == [("acme", {"app": "support-bot", "model": "gpt-4o-mini", "start": period[0].isoformat(),
                                      "end": period[1].isoformat(), "origin": "application"})]  # fmt: skip
    stored_once = references.after_close(SCOPE, SPAN, rows, {})  # kept in the table, for a restart (ADR 0058)
    assert stored_once is not None and stored_once["dataset_id"] == reference.dataset_id
    assert references.after_close(SCOPE, SPAN, rows, {}) is None  # a pinned dataset is never replaced
