"""Erasure in the datasets' state: which examples hold a subject, and what a version is once some are erased."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from llmops_evaluation.runs.erasure import DatasetErasure
from llmops_evaluation.runs.stores import DatasetStore
from llmops_kit.erasure import Held
from llmops_schemas import CloudEvent
from llmops_schemas.v1.runs import DatasetExampleAdded, DatasetVersionCreated

AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
DIGEST = "a" * 64
TOPIC = DatasetExampleAdded.topic


def example(i: int, **fields: Any) -> CloudEvent[DatasetExampleAdded]:
    data = DatasetExampleAdded(dataset="faq", version=1, digest=DIGEST, example_id=f"e{i}", position=i,
                               **{"input": f"question {i}", **fields})  # fmt: skip
    return CloudEvent.wrap(data, source="/test", tenant_id="acme")


def manifest(count: int) -> CloudEvent[DatasetVersionCreated]:
    data = DatasetVersionCreated(name="faq", version=1, digest=DIGEST, examples=count, source="calls", created_at=AT)
    return CloudEvent.wrap(data, source="/test", tenant_id="acme")


def key(i: int) -> str:
    return f"acme:faq:1:{DIGEST[:12]}:e{i}"


RECORDS = [
    example(0, source_call_id="call-1"),
    example(1, tags=["call:call-2"]),
    example(2, expected="Write to Bob.Smith@Example.com", source_call_id="call-3"),
    example(3, variables={"note": "hash h-9f2c"}),
    manifest(4),
]


@pytest.fixture
def store() -> DatasetStore:
    found = DatasetStore()
    for event in RECORDS:
        found.apply(event)
    found.mark_caught_up()
    return found


def test_examples_are_matched_by_call_email_or_hash(store: DatasetStore) -> None:
    erasure = DatasetErasure(store)
    assert erasure.holding_subject("acme", "call_id", "call-1") == [Held("dataset_examples", TOPIC, key(0))]
    assert [h.key for h in erasure.holding_calls("acme", frozenset({"call-2", "call-3"}))] == [key(1), key(2)]
    assert [h.key for h in erasure.holding_subject("acme", "email", "bob.smith@example.com")] == [key(2)]
    assert [h.key for h in erasure.holding_subject("acme", "hashed_id", "h-9f2c")] == [key(3)]
    assert erasure.holding_subject("acme", "user_id", "u-1") == []
    assert erasure.holding_subject("globex", "call_id", "call-1") == []


def test_an_erased_example_leaves_its_version_without_it(store: DatasetStore) -> None:
    erasure = DatasetErasure(store)
    erasure.forget("acme", erasure.holding_subject("acme", "call_id", "call-1"))
    version = store.get("acme", "faq")
    assert version is not None and [e.example_id for e in version.examples] == ["e1", "e2", "e3"]
    assert version.erased == 1
    store.delete(key(0))  # the tombstone coming back from Kafka counts nothing twice
    assert store.get("acme", "faq").erased == 1  # type: ignore[union-attr]


def test_a_restart_counts_what_compaction_removed() -> None:
    rebuilt = DatasetStore()
    for event in RECORDS:
        if event.data.model_dump().get("example_id") != "e0":  # the example and its tombstone compacted away
            rebuilt.apply(event)
    assert rebuilt.get("acme", "faq") is None  # loading: a missing example may still come
    rebuilt.mark_caught_up()
    version = rebuilt.get("acme", "faq")
    assert version is not None and version.erased == 1 and len(version.examples) == 3


def test_a_tombstone_read_while_loading_is_not_counted_twice() -> None:
    rebuilt = DatasetStore()
    for event in RECORDS:
        rebuilt.apply(event)
    rebuilt.apply_record(key(0).encode(), None)
    rebuilt.mark_caught_up()
    assert rebuilt.get("acme", "faq").erased == 1  # type: ignore[union-attr]
