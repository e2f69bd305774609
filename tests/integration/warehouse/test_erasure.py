"""Erasure on a real broker and the session's chDB engine (issue 10, item 4).

A subject's calls and everything tied to them are erased, with a receipt counting per table; a request for a
subject never seen gets a completed receipt of zeros; a redelivered request neither erases twice nor publishes a
second receipt; the stored request holds a keyed digest, never the value. Then every topic is replayed by a new
consumer group with the ledger loaded afresh from ClickHouse: another subject's rows come back, the erased
subject's stay gone.

Both groups start at the offsets the topics had before the test published its history: the records before belong
to the session's earlier tests (other tenants), and replaying them from offset 0 cost a minute and a half of a
whole-suite run while showing nothing more about this tenant.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.topics import TopicCatalog
from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.v2 import CostRecorded, ErasureProcessed, ErasureRequested, EvaluationScored, FeedbackReceived
from llmops_schemas.v2.examples import EXAMPLES
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer, warehouse_topics
from llmops_warehouse.erasure.clickhouse import ClickHouseErasures
from llmops_warehouse.erasure.eraser import Eraser
from llmops_warehouse.erasure.ledger import Ledger
from llmops_warehouse.erasure.purge import PurgeBound
from llmops_warehouse.erasure.rules import RULES
from llmops_warehouse.erasure.subjects import SubjectDigester
from llmops_warehouse.events import EventQuery

from tests.fixtures.kafka import commit_group_offsets
from tests.integration.warehouse.test_warehouse_consumer import _end_offsets, _ends, _read_from, wait_until
from tests.unit.warehouse.call_store_contract import BASE, make_event, new_tenant

pytestmark = pytest.mark.integration

KEY = b"integration-erasure-key-0123456789"
ALICE = "Alice@Example.com"  # stored as her user id in lower case: an e-mail subject matches it
BOB = "bob-7"
MERGE = timedelta(hours=1)


def _payload(cls: type[EventPayload], **fields: Any) -> Any:
    return cls.model_validate({**copy.deepcopy(EXAMPLES[cls]), **fields})


def _wrap(payload: EventPayload, tenant: str) -> CloudEvent[Any]:
    return CloudEvent.wrap(payload, source="//tests/erasure", tenant_id=tenant)


def _history(tenant: str) -> tuple[list[CloudEvent[Any]], dict[str, int]]:
    """Alice's calls and what refers to them, then Bob's (last on every topic: when his rows are stored, hers
    were read before them); and how many rows of each table are Alice's."""
    alice = [make_event(tenant, call_id=f"a-{i}", user_id="alice@example.com", started_at=BASE) for i in range(3)]
    cc = make_event(tenant, call_id="c-0", user_id="carol", metadata={"cc": "alice@example.com"}, started_at=BASE)
    alice.append(cc)
    bob = [make_event(tenant, call_id=f"b-{i}", user_id=BOB, started_at=BASE) for i in range(2)]
    related = [
        _wrap(_payload(FeedbackReceived, feedback_id="fb-a", call_id="a-0", user_id="rater-1"), tenant),
        _wrap(
            _payload(FeedbackReceived, feedback_id="fb-by-alice", call_id="b-1", user_id="ALICE@example.com"), tenant
        ),
        _wrap(_payload(CostRecorded, call_id="a-1", user_id="alice@example.com"), tenant),
        _wrap(_payload(EvaluationScored, evaluation_id=str(uuid.uuid4()), call_id="a-2"), tenant),
        _wrap(_payload(FeedbackReceived, feedback_id="fb-b", call_id="b-0", user_id="rater-1"), tenant),
        _wrap(_payload(CostRecorded, call_id="b-0", user_id=BOB), tenant),
        _wrap(_payload(EvaluationScored, evaluation_id=str(uuid.uuid4()), call_id="b-0"), tenant),
    ]
    counts = {rule.table: 0 for rule in RULES} | {"calls": 4, "feedback": 2, "cost_records": 1, "evaluation_scores": 1}
    return [*alice, *bob, *related], counts


def _request(tenant: str, request_id: str, subject_type: str, value: str) -> CloudEvent[ErasureRequested]:
    payload = _payload(
        ErasureRequested,
        request_id=request_id,
        subject_type=subject_type,
        subject_value=value,
        requested_at=datetime.now(UTC),
    )
    return CloudEvent.wrap(payload, source="//tests/erasure", tenant_id=tenant, subject=f"erasure/{request_id}")


def _eraser(store: ConcurrentEventStore, client: Any, database: str, producer: EventProducer) -> Eraser:
    inner = ClickHouseEventStore(client, database)
    erasures = ClickHouseErasures(database, inner.writing, inner.read)
    purge = PurgeBound.of(TopicCatalog.load(), MERGE)
    return Eraser(store, erasures, Ledger(SubjectDigester(KEY)), producer, purge)


async def _rows(store: ConcurrentEventStore, tenant: str, table: str) -> list[Any]:
    if table == "calls":
        from llmops_warehouse.models import CallQuery

        return list((await store.list_calls(CallQuery(tenant_id=tenant, limit=1000))).items)
    return list((await store.read_events(EventQuery(tenant_id=tenant, table=table, limit=1000))).items)


async def _receipts(bootstrap: str, start: Any, tenant: str) -> list[CloudEvent[ErasureProcessed]]:
    records = await _read_from(bootstrap, start)
    return [CloudEvent[ErasureProcessed].model_validate_json(r.value) for r in records if r.key == tenant.encode()]


async def _run(
    settings: WarehouseSettings,
    store: ConcurrentEventStore,
    producer: EventProducer,
    eraser: Eraser,
    until: Any,
    what: str,
    publish: Sequence[CloudEvent[Any]] = (),
) -> None:
    await eraser.load()
    consumer = build_consumer(settings, store, producer, eraser=eraser)
    await consumer.start()
    try:
        if publish:
            await producer.publish_many(publish)
        await wait_until(until, what, timeout_s=120)
    finally:
        await consumer.stop()


async def test_an_erased_subject_stays_gone_after_a_replay_of_every_topic(
    kafka_bootstrap: str, producer: EventProducer, chdb_client: Any, warehouse_database: str
) -> None:
    tenant = new_tenant()
    store = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    history, alice_counts = _history(tenant)
    group = f"erasure-{uuid.uuid4().hex[:8]}"
    settings = WarehouseSettings(kafka_bootstrap_servers=kafka_bootstrap, consumer_group=group, batch_wait_ms=100)
    before_history = await _ends(kafka_bootstrap, warehouse_topics())
    await commit_group_offsets(kafka_bootstrap, group, before_history)

    expected = {"calls": 6, "feedback": 3, "cost_records": 2, "evaluation_scores": 2}

    async def stored() -> bool:
        # Every table the erasure counts: each topic is consumed on its own, so one table being complete says
        # nothing of another's.
        return all([len(await _rows(store, tenant, table)) == n for table, n in expected.items()])

    await _run(
        settings,
        store,
        producer,
        _eraser(store, chdb_client, warehouse_database, producer),
        stored,
        "the history stored",
        history,
    )

    # Another replica, its ledger loaded before the erasure, learns of it from what this one records.
    replica = _eraser(store, chdb_client, warehouse_database, producer)
    await replica.load()
    assert replica.ledger.tenant(tenant) is None

    # Erase Alice by e-mail (any case), and a subject never seen; redeliver Alice's request.
    receipts_start = await _end_offsets(kafka_bootstrap, ErasureProcessed.topic)
    erase_alice = _request(tenant, "req-alice", "email", ALICE)
    erase_nobody = _request(tenant, "req-nobody", "user_id", "nobody")

    async def receipts_stored() -> bool:
        rows = await _rows(store, tenant, "erasure_receipts")
        return {r.data["request_id"] for r in rows} == {"req-alice", "req-nobody"}

    await _run(
        settings,
        store,
        producer,
        _eraser(store, chdb_client, warehouse_database, producer),
        receipts_stored,
        "both receipts stored",
        [erase_alice, erase_nobody, erase_alice],
    )

    await replica.load(since_ms=1)
    learned = replica.ledger.tenant(tenant)
    assert (
        learned is not None and learned.calls == {"a-0", "a-1", "a-2", "c-0"} and learned.types == {"email", "user_id"}
    )
    receipts = await _receipts(kafka_bootstrap, receipts_start, tenant)
    by_request = {r.data.request_id: r for r in receipts}
    assert len({r.id for r in receipts if r.data.request_id == "req-alice"}) == 1  # the redelivery: the same receipt
    alice = by_request["req-alice"].data
    assert (alice.status, alice.service, alice.subject_type) == ("completed", "warehouse", "email")
    assert alice.counts == alice_counts
    assert alice.rows_affected == sum(alice_counts.values())
    retention = TopicCatalog.load().get(ErasureRequested.topic).retention or 0
    assert alice.purge_deadline is not None
    assert alice.purge_deadline >= alice.completed_at + MERGE + timedelta(milliseconds=retention)
    nobody = by_request["req-nobody"].data
    assert nobody.status == "completed" and nobody.rows_affected == 0 and set(nobody.counts.values()) == {0}

    assert {c.call_id for c in await _rows(store, tenant, "calls")} == {"b-0", "b-1"}
    assert {f.data["feedback_id"] for f in await _rows(store, tenant, "feedback")} == {"fb-b"}
    stored_requests = await _rows(store, tenant, "erasure_requests")
    assert ALICE.lower() not in json.dumps([r.data for r in stored_requests]).lower()
    assert all(r.data["subject_value"].startswith("hmac-sha256:") for r in stored_requests)

    # Bob's rows are lost (as if restored from an old backup), then every topic is replayed from before the history.
    for table in ("calls", "feedback", "cost_records", "evaluation_scores"):
        chdb_client.command(f"DELETE FROM {warehouse_database}.{table} WHERE tenant_id = '{tenant}'")
    replay = settings.model_copy(update={"consumer_group": f"replay-{uuid.uuid4().hex[:8]}"})
    await commit_group_offsets(kafka_bootstrap, replay.consumer_group, before_history)

    async def bob_is_back() -> bool:
        sizes = [len(await _rows(store, tenant, table)) for table in ("calls", "feedback", "cost_records")]
        return sizes == [2, 1, 1] and len(await _rows(store, tenant, "evaluation_scores")) == 1

    await _run(
        replay,
        store,
        producer,
        _eraser(store, chdb_client, warehouse_database, producer),
        bob_is_back,
        "Bob's rows replayed",
    )
    assert {c.call_id for c in await _rows(store, tenant, "calls")} == {"b-0", "b-1"}
    assert {f.data["feedback_id"] for f in await _rows(store, tenant, "feedback")} == {"fb-b"}
    assert [c.data["call_id"] for c in await _rows(store, tenant, "cost_records")] == ["b-0"]
    assert [s.data["call_id"] for s in await _rows(store, tenant, "evaluation_scores")] == ["b-0"]
    await store.stop()
