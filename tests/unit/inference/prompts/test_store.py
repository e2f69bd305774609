"""The materialised view: latest record per key wins (as compaction keeps), tombstones delete, rebuilds match."""

from __future__ import annotations

from typing import Any

import pytest
from llmops_inference.prompts.model import PromptVersionDraft
from llmops_inference.prompts.service import PromptRegistry
from llmops_inference.prompts.store import PromptStore
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import PromptLabelMoved, PromptVersionPublished
from llmops_schemas.v1.examples import example_data

from tests.unit.inference.prompts.fakes import ACTOR, TENANT, draft

TOPIC = PromptVersionPublished.topic


def version_event(tenant: str = TENANT, **changes: Any) -> CloudEvent[PromptVersionPublished]:
    payload = PromptVersionPublished.model_validate({**example_data(PromptVersionPublished), **changes})
    return CloudEvent.wrap(payload, source="/tests", tenant_id=tenant)


async def history(registry: PromptRegistry) -> None:
    """A realistic sequence of changes: versions, labels, a rollback, a second prompt."""
    for text in ("one", "two", "three"):
        body = draft(("system", text), ("user", "{{ q }}"), variables=[{"name": "q"}], labels=["staging"])
        await registry.create_version(TENANT, "answer", PromptVersionDraft.model_validate(body), ACTOR)
    await registry.move_label(TENANT, "answer", "production", 1, ACTOR)
    await registry.move_label(TENANT, "answer", "production", 3, ACTOR)
    await registry.rollback(TENANT, "answer", "production", ACTOR)
    other = PromptVersionDraft.model_validate(draft(("system", "Summarise.")))
    await registry.create_version(TENANT, "summary", other, ACTOR)


async def test_replaying_the_topic_rebuilds_the_same_state(registry: PromptRegistry, sink: InMemoryPublisher) -> None:
    await history(registry)

    rebuilt = PromptStore()
    for key, value in sink.records(TOPIC):
        rebuilt.apply_record(key, value)

    assert rebuilt.snapshot() == registry.store.snapshot()
    assert rebuilt.label(TENANT, "answer", "production").version == 1  # type: ignore[union-attr]
    assert rebuilt.label(TENANT, "answer", "staging").version == 3  # type: ignore[union-attr]


async def test_the_compacted_topic_rebuilds_the_same_state(registry: PromptRegistry, sink: InMemoryPublisher) -> None:
    """Compaction keeps the last record per key (in log order); that alone must give the same state."""
    await history(registry)
    last: dict[bytes, bytes] = {}
    for key, value in sink.records(TOPIC):
        last.pop(key, None)
        last[key] = value  # re-inserted: ordered by the position of the key's last record

    compacted = PromptStore()
    for key, value in last.items():
        compacted.apply_record(key, value)

    assert compacted.snapshot() == registry.store.snapshot()


def test_tombstones_delete_versions_and_labels() -> None:
    store = PromptStore()
    store.apply(version_event(version=1, labels=[], parent=None))
    store.apply(version_event(version=2, labels=[], parent=None))
    moved = PromptLabelMoved(
        name="support-answer", label="production", version=2, history=[1], moved_by="a", moved_at="2026-03-01T12:00:00Z"
    )
    store.apply(CloudEvent.wrap(moved, source="/tests", tenant_id=TENANT))
    assert store.label(TENANT, "support-answer", "production").version == 2  # type: ignore[union-attr]

    store.apply_record(b"acme:support-answer:label:production", None)
    assert store.label(TENANT, "support-answer", "production") is None
    store.apply_record(b"acme:support-answer:2", None)
    assert [v.version for v in store.versions(TENANT, "support-answer")] == [1]
    store.apply_record(b"acme:support-answer:1", None)
    assert store.names(TENANT) == []
    store.apply_record(b"acme:unknown:1", None)  # harmless


def test_labels_fall_back_to_the_versions_own_labels() -> None:
    store = PromptStore()
    store.apply(version_event(version=1, labels=["production", "staging"], parent=None))
    store.apply(version_event(version=2, labels=["staging"], parent=None))
    positions = store.labels(TENANT, "support-answer")
    assert {k: (p.version, p.source) for k, p in positions.items()} == {
        "production": (1, "version"),
        "staging": (2, "version"),
    }


def test_a_conflicting_republish_is_counted_and_the_later_record_wins() -> None:
    store = PromptStore()
    store.apply(version_event(version=1, parent=None))
    store.apply(version_event(version=1, parent=None, labels=[]))  # labels only: no conflict
    assert store.conflicts == 0
    changed = example_data(PromptVersionPublished)["template"]
    changed[0]["content"] = "Something else entirely for {{ shop }}."
    store.apply(version_event(version=1, parent=None, template=changed))
    assert store.conflicts == 1
    assert store.version(TENANT, "support-answer", 1).template[0].content.startswith("Something")  # type: ignore[union-attr]


def test_invalid_records_and_other_types_are_ignored() -> None:
    store = PromptStore()
    store.apply_record(b"acme:x:1", b"not json")
    store.apply_record(b"acme:x:1", b'{"specversion": "1.0"}')
    assert store.snapshot() == {}


def test_tenants_are_separate() -> None:
    store = PromptStore()
    store.apply(version_event(tenant="acme", version=1, parent=None))
    assert store.names("acme") == ["support-answer"]
    assert store.names("globex") == []
    assert store.version("globex", "support-answer", 1) is None


def test_the_label_record_contract() -> None:
    from llmops_schemas.registry import record_key
    from llmops_schemas.v1.examples import example
    from pydantic import ValidationError

    moved = example(PromptLabelMoved)
    assert record_key(CloudEvent.wrap(moved, source="/t", tenant_id=TENANT)) == b"acme:support-answer:label:production"
    assert moved.previous_version() == 2
    with pytest.raises(ValidationError, match="the last entry of history is where the label pointed before"):
        PromptLabelMoved.model_validate({**example_data(PromptLabelMoved), "history": [1, 3]})
