"""How the consumer routes a record of any warehouse topic: which table, tombstones, what is refused.

Also pins the mapping against the topic catalog: every topic the warehouse consumes has a table, every table's
topic lists the warehouse as a consumer, and the compacted topics are those of compacted payloads.
"""

from __future__ import annotations

import pytest
from llmops_kit.errors import PermanentError
from llmops_kit.kafka.consumer import ConsumedMessage
from llmops_kit.kafka.topics import TopicCatalog
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.fastcodec import to_struct
from llmops_schemas.v1.common import CompactedPayload
from llmops_schemas.v1.evaluation import EvaluationScored as EvaluationScoredV1
from llmops_schemas.v1.examples import example
from llmops_schemas.v1.feedback import FeedbackReceived
from llmops_schemas.v1.prompts import PromptVersionPublished
from llmops_schemas.v2 import CallRecorded, EvaluationScored
from llmops_warehouse.entrypoints.consumer import Router, warehouse_topics
from llmops_warehouse.events import StoredEvent, tombstone_id
from llmops_warehouse.tables import TABLES

from tests.unit.warehouse.call_store_contract import make_event

ROUTER = Router(tables=TABLES, compacted=frozenset(t.topic for t in TABLES if issubclass(t.payload, CompactedPayload)))
PROMPTS = PromptVersionPublished.topic


def message(topic: str, value: bytes, key: bytes = b"acme", offset: int = 7) -> ConsumedMessage:
    return ConsumedMessage(topic=topic, partition=1, offset=offset, key=key, value=value, headers=(), timestamp_ms=5)


def test_the_mapping_covers_exactly_the_warehouse_topics_of_the_catalog() -> None:
    catalog = TopicCatalog.load()
    consumed = set(warehouse_topics(catalog))
    assert {t.topic for t in TABLES} | {CallRecorded.topic} == consumed
    compacted = {t for t in consumed if catalog.get(t).cleanup_policy == "compact"}
    assert ROUTER.compacted == compacted


def test_calls_keep_their_fast_path() -> None:
    event = make_event("acme")
    assert ROUTER.decode(message(CallRecorded.topic, event.to_json_bytes())) == to_struct(event)


def test_an_event_goes_to_its_table_with_its_envelope() -> None:
    event = CloudEvent.wrap(example(EvaluationScored), source="//llmops/evaluation", tenant_id="acme", key_id="k")
    stored = ROUTER.decode(message(EvaluationScored.topic, event.to_json_bytes()))
    # A pass takes its fast path: the payload is the derived struct (tests/unit/warehouse/test_pass_decode.py).
    assert stored == StoredEvent.of("evaluation_scores", to_struct(event), record_key="acme")
    assert (stored.source, stored.key_id) == ("//llmops/evaluation", "k")


def test_a_type_on_a_topic_it_does_not_belong_to_is_dead_lettered() -> None:
    event = CloudEvent.wrap(example(FeedbackReceived), source="tests", tenant_id="acme")
    with pytest.raises(
        PermanentError, match=r"stores no llmops\.feedback\.received\.v2 from llmops\.evaluations\.scored"
    ):
        ROUTER.decode(message(EvaluationScored.topic, event.to_json_bytes()))


def test_an_empty_value_on_a_delete_topic_is_dead_lettered() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        ROUTER.decode(message(EvaluationScored.topic, b""))


@pytest.mark.parametrize(
    ("key", "table"), [("acme:greeter:3", "prompt_versions"), ("acme:greeter:label:production", "prompt_label_moves")]
)
def test_a_tombstone_becomes_a_delete_marker_of_the_table_its_key_names(key: str, table: str) -> None:
    marker = ROUTER.decode(message(PROMPTS, b"", key=key.encode(), offset=42))
    assert marker == StoredEvent(
        table=table,
        event_id=tombstone_id(PROMPTS, 1, 42),
        tenant_id="acme",
        event_type={"prompt_versions": PromptVersionPublished.event_type}.get(table, "llmops.prompt.label_moved.v1"),
        time_ms=5,
        record_key=key,
    )
    assert isinstance(marker, StoredEvent) and marker.deleted


@pytest.mark.parametrize("key", [b"no-colon", b"Not A Tenant:x:1", b"acme:greeter:oops", b"\xff:x"])
def test_a_bad_record_on_a_compacted_topic_raises_and_its_topic_has_no_dlq(key: bytes) -> None:
    # Compacted topics have no DLQ: the loop counts what does not decode as rejected (ConsumerLoop's
    # without_dlq, tested against a broker in tests/integration/kit) instead of publishing it nowhere.
    with pytest.raises(PermanentError, match=r"tombstone key|not UTF-8"):
        ROUTER.decode(message(PROMPTS, b"", key=key))
    with pytest.raises(ValueError, match="not valid JSON"):
        ROUTER.decode(message(PROMPTS, b"{not json", key=b"acme:greeter:1"))
    assert PROMPTS in ROUTER.compacted
    assert not TopicCatalog.load().get(PROMPTS).dlq


def test_an_event_of_an_older_version_is_upcast_before_it_is_stored() -> None:
    old = CloudEvent.wrap(example(EvaluationScoredV1), source="s", tenant_id="acme")
    stored = ROUTER.decode(message(EvaluationScored.topic, old.to_json_bytes()))
    assert isinstance(stored, StoredEvent) and isinstance(stored.payload, EvaluationScored)
    assert (stored.table, stored.event_type, str(stored.event_id)) == (
        "evaluation_scores",
        EvaluationScored.event_type,
        old.id,
    )
    assert stored.payload.scores[0].score_id == old.data.evaluation_id
