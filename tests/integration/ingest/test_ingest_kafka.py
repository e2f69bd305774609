"""Ingest against a real broker: HTTP batches and the raw topic both end up as CloudEvents on
``llmops.calls.recorded``; poison raw records go to ``llmops.calls.raw.dlq`` while the good ones flow.

Topics are shared by the whole session, so every test writes under its own tenant (and marker) and
reads back only what it wrote.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaTimeoutError
from fastapi import FastAPI
from llmops_ingest.bootstrap import IngestPorts, create_app
from llmops_ingest.config import IngestSettings
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, generate_key, hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EncodedEvent
from llmops_kit.kafka.topics import TopicCatalog

from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.ingest.fakes import Hook, HookedPublisher, call_ids

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RECORDED = "llmops.calls.recorded"
RAW = "llmops.calls.raw"
RAW_DLQ = "llmops.calls.raw.dlq"
Record: TypeAlias = ConsumerRecord[bytes, bytes]


@dataclass
class RunningIngest:
    app: FastAPI
    client: httpx.AsyncClient
    tenant: str
    key: str


def a_call(call_id: str | None, marker: str, **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "app": "support-bot",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "messages": [{"role": "user", "content": f"hello from {marker}"}],
        "started_at": (datetime.now(UTC) - timedelta(seconds=5)).isoformat(),
        "latency_ms": 120.0,
        **overrides,
    }
    if call_id is not None:
        record["call_id"] = call_id
    return record


@asynccontextmanager
async def running_ingest(bootstrap: str, tmp_path: Path) -> AsyncIterator[RunningIngest]:
    """The production wiring (producer, topic check, raw consumer) in this event loop, with its own key."""
    tenant, key = f"it-{uuid.uuid4().hex[:10]}", generate_key()
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(
        f"keys:\n  - id: it-writer\n    tenant_id: {tenant}\n    role: writer\n    sha256: {hash_key(key)}\n"
    )
    settings = IngestSettings(
        kafka_bootstrap_servers=bootstrap,
        api_keys_file=keys_file,
        # A group per test: each test's consumer starts fresh instead of inheriting another's offsets.
        raw_group=f"ingest-raw-it-{uuid.uuid4().hex[:8]}",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            yield RunningIngest(app, client, tenant, key)


def partition_count(catalog: TopicCatalog, topic: str) -> int:
    if topic.endswith(".dlq"):
        return catalog.defaults.dlq_partitions
    return catalog.get(topic).partitions


async def collect(
    bootstrap: str, topic: str, wanted: Callable[[Record], bool], count: int, timeout_s: float = 60.0
) -> list[Record]:
    """Read ``topic`` from the beginning (no group) until ``count`` records match ``wanted``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(partition_count(TopicCatalog.load(), topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: list[Record] = []
        async with asyncio.timeout(timeout_s):
            while len(found) < count:
                batches = await consumer.getmany(timeout_ms=500)
                found += [r for records in batches.values() for r in records if wanted(r)]
        return found
    finally:
        await consumer.stop()


async def produce_raw(bootstrap: str, records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(RAW, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def test_http_batch_lands_on_the_recorded_topic(kafka_bootstrap: str, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    async with running_ingest(kafka_bootstrap, tmp_path) as ingest:
        async with asyncio.timeout(30):  # the policy and key-state followers catch up in the background
            while (await ingest.client.get("/readyz")).status_code != 200:
                await asyncio.sleep(0.1)
        calls = [a_call("http-1", marker), a_call(None, marker), a_call("http-3", marker, latency_ms=-5)]
        response = await ingest.client.post(
            "/v1/calls", json={"calls": calls}, headers={"Authorization": f"Bearer {ingest.key}"}
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert [r["index"] for r in body["rejected"]] == [2]
        accepted = {a["event_id"]: a for a in body["accepted"]}

        records = await collect(kafka_bootstrap, RECORDED, lambda r: r.key == ingest.tenant.encode(), 2)

    assert {r.key for r in records} == {ingest.tenant.encode()}
    for record in records:
        event = json.loads(record.value)
        assert event["id"] in accepted
        assert event["specversion"] == "1.0"
        assert event["type"] == "llmops.call.recorded.v2"
        assert event["source"] == "/services/ingest"
        assert event["tenantid"] == ingest.tenant
        assert event["subject"] == event["data"]["call_id"] == accepted[event["id"]]["call_id"]
        assert marker in event["data"]["messages"][0]["content"]
        assert dict(record.headers)["ce_type"] == b"llmops.call.recorded.v2"
        assert event["keyid"] == "it-writer"  # the key it was submitted under, for provenance


async def test_raw_topic_flows_and_poison_goes_to_the_dlq(kafka_bootstrap: str, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    async with running_ingest(kafka_bootstrap, tmp_path) as ingest:
        tenant = ingest.tenant.encode()
        good_by_header = json.dumps(a_call(f"raw-{marker}-1", marker)).encode()
        good_by_key = json.dumps(a_call(None, marker)).encode()
        poison = f'{{"not json at all {marker}'.encode()
        too_old = json.dumps(a_call(f"raw-{marker}-old", marker, started_at="2001-01-01T00:00:00Z")).encode()
        no_tenant = json.dumps(a_call(f"raw-{marker}-anon", marker)).encode()
        platform = json.dumps(a_call(f"raw-{marker}-platform", marker, origin="platform")).encode()
        personal = {"role": "user", "content": f"{marker}: I am Priya Sharma, priya@example.com"}
        with_pii = json.dumps(a_call(f"raw-{marker}-pii", marker, messages=[personal], latency_ms=-1)).encode()
        await produce_raw(
            kafka_bootstrap,
            [
                (None, good_by_header, [("tenant_id", tenant)]),
                (None, poison, [("tenant_id", tenant)]),
                (tenant, good_by_key, []),
                (None, too_old, [("tenant_id", tenant)]),
                (None, no_tenant, []),
                (None, platform, [("tenant_id", tenant)]),
                (None, with_pii, [("tenant_id", tenant)]),
            ],
        )
        recorded = await collect(kafka_bootstrap, RECORDED, lambda r: r.key == tenant, 2)
        dead = await collect(kafka_bootstrap, RAW_DLQ, lambda r: marker.encode() in r.value, 5)

        async def ready() -> bool:  # poison does not make it unready (its key state may still be loading)
            return (await ingest.client.get("/readyz")).status_code == 200

        await wait_until(ready, "ingest to be ready")

    events = [json.loads(r.value) for r in recorded]
    assert {e["tenantid"] for e in events} == {ingest.tenant}
    assert f"raw-{marker}-1" in {e["subject"] for e in events}
    assert all(marker in e["data"]["messages"][0]["content"] for e in events)
    assert all("keyid" not in e for e in events)  # no API key on the raw topic

    by_value = {r.value: r for r in dead}
    [redacted] = set(by_value) - {poison, too_old, no_tenant, platform}  # the others' bytes are untouched
    assert json.loads(redacted)["messages"][0]["content"] == f"{marker}: I am [PERSON], [EMAIL]"  # ADR 0035
    assert json.loads(redacted)["latency_ms"] == -1
    for record in dead:
        headers = dict(record.headers)
        assert headers["dlq.source_topic"] == RAW.encode()
        assert int(headers["dlq.source_partition"]) >= 0
        assert int(headers["dlq.source_offset"]) >= 0
        assert headers["dlq.error"]
    assert b"malformed JSON" in dict(by_value[poison].headers)["dlq.error"]
    assert b"timestamp_too_old" in dict(by_value[too_old].headers)["dlq.error"]
    assert b"no tenant" in dict(by_value[no_tenant].headers)["dlq.error"]
    assert b"origin_not_allowed" in dict(by_value[platform].headers)["dlq.error"]


def lose_first_acknowledgement(of: set[str]) -> Hook:
    """After the real producer stored a publish holding a call id in ``of``: fail it, once per call id, as when
    Kafka stored the records but the acknowledgement was lost on the way back (a timeout, a broken connection)."""

    async def after(batch: list[EncodedEvent]) -> None:
        lost = call_ids(batch) & of
        if lost:
            of.difference_update(lost)
            raise KafkaTimeoutError("acknowledgement lost")

    return after


async def test_a_retry_of_a_partly_published_batch_publishes_each_record_under_one_event_id(
    kafka_bootstrap: str,
) -> None:
    marker, tenant, key = uuid.uuid4().hex, f"it-{uuid.uuid4().hex[:10]}", generate_key()
    big = "x" * 200_000  # two records per publish chunk, so the four valid ones go out in two chunks
    calls = [
        a_call(f"{marker}-0", marker, output=big),
        a_call(None, marker, output=big),
        a_call(f"{marker}-2", marker, output=big),
        {"not": "a call"},
        a_call(None, marker, output=big + "y"),
    ]
    producer = EventProducer(kafka_bootstrap, service="ingest-it")
    await producer.start()
    try:
        keys = ApiKeyStore([ApiKeyRecord(id="it-writer", tenant_id=tenant, role="writer", sha256=hash_key(key))])
        publisher = HookedPublisher(producer, after=lose_first_acknowledgement({f"{marker}-2"}))
        app = create_app(IngestSettings(), ports=IngestPorts(publisher=publisher, api_keys=keys))
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            first = await client.post("/v1/calls", json={"calls": calls}, headers=headers)
            assert first.status_code == 503, first.text
            body = first.json()
            assert [r["index"] for r in body["accepted"]] == [0, 1]
            assert [r["index"] for r in body["not_accepted"]] == [2, 4]
            assert [r["index"] for r in body["rejected"]] == [3]
            # As the 503 says: send the records not accepted again (here: the whole batch, which is also safe).
            retry = await client.post("/v1/calls", json={"calls": calls}, headers=headers)
            assert retry.status_code == 202, retry.text
    finally:
        await producer.stop()

    reported = {r["event_id"]: r["call_id"] for r in body["accepted"] + body["not_accepted"]}
    assert reported == {r["event_id"]: r["call_id"] for r in retry.json()["accepted"]}
    # Records 2 and 4 were stored by the first attempt (their acknowledgement was lost) and again by the
    # retry: Kafka holds 8 records, under the 4 event ids the 503 named, so a sink deduplicating on the
    # event id stores each record once.
    stored = await collect(kafka_bootstrap, RECORDED, lambda r: r.key == tenant.encode(), 8)
    events = [json.loads(r.value) for r in stored]
    assert len(events) == 8
    assert {e["id"]: e["subject"] for e in events} == reported
