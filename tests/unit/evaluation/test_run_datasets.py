"""Datasets: JSONL parsing with per-line errors, content digests, and immutable versions in the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from llmops_evaluation.runs.parsing import dataset_digest, example_id_of, parse_jsonl
from llmops_evaluation.runs.stores import DatasetStore
from llmops_schemas import CloudEvent
from llmops_schemas.v1.runs import MAX_EXAMPLE_CHARS, DatasetExampleAdded, DatasetVersionCreated

AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def jsonl(*rows: Any) -> bytes:
    return b"\n".join(r if isinstance(r, bytes) else json.dumps(r).encode() for r in rows)


def test_one_broken_line_keeps_the_others_and_names_each_bad_line() -> None:
    body = jsonl(
        {"input": "Where is my parcel?", "expected": "In transit."},
        b"{not json",
        {"expected": "no input"},
        b"",
        ["an", "array"],
        b"\xff\xfe not utf-8",
        {"input": "x" * (MAX_EXAMPLE_CHARS + 1)},
        {"input": "Refund?", "context": "Refunds take 5 days.", "tags": ["billing"], "unknown": 1},
        {"input": "How long do refunds take?", "context": "Refunds take 5 days.", "id": "refund"},
        {"input": "duplicate id", "id": "refund"},
    )
    parsed = parse_jsonl(body, max_examples=100)
    assert [e.input for _, e in parsed.examples] == ["Where is my parcel?", "How long do refunds take?"]
    assert parsed.examples[1][1].context == ["Refunds take 5 days."]
    reasons = {e.line: e.error for e in parsed.errors}
    assert sorted(reasons) == [2, 3, 5, 6, 7, 8, 10] and parsed.refused == 7
    assert "Invalid JSON" in reasons[2]
    assert reasons[3].startswith("input: Field required")
    assert "object" in reasons[5]
    assert reasons[6] == "not UTF-8 (byte 0)"
    assert "input: String should have at most 32768 characters" in reasons[7]
    assert "unknown: Extra inputs are not permitted" in reasons[8]
    assert reasons[10] == "duplicate example id 'refund' (ids are unique within a dataset)"


def test_bounds_examples_and_context() -> None:
    body = jsonl(*({"input": f"q{i}"} for i in range(5)))
    parsed = parse_jsonl(body, max_examples=3)
    assert len(parsed.examples) == 3
    limit = "the dataset already has 3 examples (the limit)"
    assert [(e.line, e.error) for e in parsed.errors] == [(4, limit), (5, limit)]
    too_much = jsonl({"input": "q", "context": ["x" * 20_000, "y" * 20_000]})
    [error] = parse_jsonl(too_much, max_examples=3).errors
    assert "together exceed 32768 characters" in error.error


def test_ids_and_digest_follow_the_content() -> None:
    a = parse_jsonl(jsonl({"input": "q1", "expected": "a1"}, {"input": "q2"}), max_examples=10).examples
    b = parse_jsonl(jsonl({"expected": "a1", "input": "q1"}, {"input": "q2"}), max_examples=10).examples
    assert [i for i, _ in a] == [i for i, _ in b] and a[0][0].startswith("ex-")
    assert dataset_digest(a) == dataset_digest(b)
    changed = parse_jsonl(jsonl({"input": "q1", "expected": "a2"}, {"input": "q2"}), max_examples=10).examples
    assert dataset_digest(changed) != dataset_digest(a)
    assert example_id_of(changed[1][1]) == a[1][0]
    assert dataset_digest(list(reversed(a))) != dataset_digest(a)


def _version(name: str, version: int, inputs: list[str], digest: str) -> list[CloudEvent[Any]]:
    examples = [
        CloudEvent.wrap(
            DatasetExampleAdded(dataset=name, version=version, digest=digest, example_id=f"e{i}", position=i, input=q),
            source="/test",
            tenant_id="acme",
        )
        for i, q in enumerate(inputs)
    ]
    manifest = DatasetVersionCreated(
        name=name, version=version, digest=digest, examples=len(inputs), source="upload", created_at=AT
    )
    return [*examples, CloudEvent.wrap(manifest, source="/test", tenant_id="acme")]


@pytest.fixture
def store() -> DatasetStore:
    found = DatasetStore()
    found.mark_caught_up()
    return found


def test_a_version_is_visible_only_once_complete(store: DatasetStore) -> None:
    *examples, manifest = _version("faq", 1, ["a", "b"], "1" * 64)
    for event in (examples[0], manifest):
        store.apply(event)
    assert store.get("acme", "faq") is None and store.versions("acme", "faq") == []
    store.apply(examples[1])
    found = store.get("acme", "faq")
    assert found is not None and [e.input for e in found.examples] == ["a", "b"]
    assert store.get("globex", "faq") is None


def test_versions_are_immutable_and_numbered(store: DatasetStore) -> None:
    for event in _version("faq", 1, ["a"], "1" * 64) + _version("faq", 2, ["b", "c"], "2" * 64):
        store.apply(event)
    assert store.next_version("acme", "faq") == 3 and store.next_version("acme", "new") == 1
    # A second upload that raced for version 2: its manifest is ignored, its examples never mix in.
    for event in _version("faq", 2, ["z"], "3" * 64):
        store.apply(event)
    second = store.get("acme", "faq", 2)
    assert second is not None and [e.input for e in second.examples] == ["b", "c"]
    assert [m.version for m in store.versions("acme", "faq")] == [1, 2]
    first = store.get("acme", "faq", 1)
    assert first is not None and [e.input for e in first.examples] == ["a"]
    store.delete("acme:faq:1")
    assert store.get("acme", "faq", 1) is not None
    assert [m.name for m in store.latest("acme")] == ["faq"]
