"""Reads never stall ingestion: expensive searches run beside the inserts, bounded per key and in time.

The production wiring (``create_app``: ClickHouse through ``open_clickhouse_store``, the consumer, the query
limiter) runs in process on the session's chDB engine and broker. One tenant's reader fires 50 concurrent
full-text searches, over and over, while 10,000 calls stream in: the consumer's lag, sampled every second,
stays under 20,000 records and is 0 within 10 s after the stream ends, and another tenant's summary answers
within 1 s throughout. With reads serialised behind the inserts (one thread, one client) it fails.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from llmops_kit.auth import hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas.v1.calls import CallRecorded
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.http import create_app

from tests.unit.warehouse.call_store_contract import BASE, make_event, new_tenant

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STREAM = 10_000
SEARCHERS = 50
MAX_LAG = 20_000
DRAIN_S = 10.0
SUMMARY_S = 1.0
TOPIC = CallRecorded.topic


async def _commit_at_end(bootstrap: str, group: str) -> list[TopicPartition]:
    """Start ``group`` at the calls topic's end, so its lag counts this test's records only."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(TOPIC, p) for p in sorted(consumer.partitions_for_topic(TOPIC) or ())]
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit({tp: offset for tp, offset in ends.items()})
        return partitions
    finally:
        await consumer.stop()


class Lag:
    """The group's lag on the calls topic: end offsets minus committed offsets."""

    def __init__(self, bootstrap: str, group: str, partitions: list[TopicPartition]) -> None:
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self.offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.group, self.partitions = group, partitions

    async def __aenter__(self) -> Lag:
        await self.admin.start()
        await self.offsets.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.offsets.stop()
        await self.admin.close()

    async def now(self) -> int:
        ends = await self.offsets.end_offsets(self.partitions)
        committed = await self.admin.list_consumer_group_offsets(self.group, partitions=self.partitions)
        return sum(ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in self.partitions)


@pytest.fixture
async def warehouse(
    kafka_bootstrap: str, chdb_url: str, scratch_database: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], str]]:
    """The warehouse app over a fresh database; the keys of a searcher and of another tenant's reader."""
    searcher, other = new_tenant(), new_tenant()
    keys = {searcher: f"llmops_searcher_{uuid.uuid4().hex}", other: f"llmops_other_{uuid.uuid4().hex}"}
    keys_file = tmp_path / "keys.yaml"
    records = [{"id": t, "tenant_id": t, "role": "reader", "sha256": hash_key(k)} for t, k in keys.items()]
    keys_file.write_text(yaml.safe_dump({"keys": records}))
    group = f"warehouse-isolation-{uuid.uuid4().hex[:8]}"
    settings = WarehouseSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        clickhouse_url=chdb_url,
        database=scratch_database,
        consumer_group=group,
        api_keys_file=keys_file,
        ensure_topics=False,
        query_timeout_s=5,
    )
    await _commit_at_end(kafka_bootstrap, group)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warehouse", timeout=30) as client,
    ):
        yield client, keys, group


async def _search_forever(client: httpx.AsyncClient, key: str, stop: asyncio.Event, answers: list[int]) -> None:
    """One searcher: a text search that matches nothing (a full scan of the window), again and again."""
    headers = {"Authorization": f"Bearer {key}"}
    while not stop.is_set():
        response = await client.get("/v1/calls", params={"text": f"absent-{uuid.uuid4().hex}"}, headers=headers)
        answers.append(response.status_code)
        if response.status_code == 429:
            await asyncio.sleep(float(response.headers["retry-after"]) / 10)


async def test_searches_never_stall_ingestion(
    warehouse: tuple[httpx.AsyncClient, dict[str, str], str], kafka_bootstrap: str
) -> None:
    client, keys, group = warehouse
    (searcher, searcher_key), (_, other_key) = keys.items()
    producer = EventProducer(kafka_bootstrap, service="isolation-test")
    await producer.start()
    partitions = [TopicPartition(TOPIC, p) for p in range(6)]
    stop = asyncio.Event()
    answers: list[int] = []
    lags: list[int] = []
    summaries: list[tuple[int, float]] = []
    now = BASE + timedelta(days=1)
    calls = [make_event(searcher, started_at=now + timedelta(milliseconds=i), content="x" * 400) for i in range(STREAM)]
    async with Lag(kafka_bootstrap, group, partitions) as lag:

        async def sample() -> None:
            while not stop.is_set():
                lags.append(await lag.now())
                started = time.monotonic()
                response = await client.get("/v1/metrics/summary", headers={"Authorization": f"Bearer {other_key}"})
                summaries.append((response.status_code, time.monotonic() - started))
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

        searches = [asyncio.create_task(_search_forever(client, searcher_key, stop, answers)) for _ in range(SEARCHERS)]
        sampler = asyncio.create_task(sample())
        try:
            for i in range(0, STREAM, 500):
                await producer.publish_many(calls[i : i + 500])
            ended = time.monotonic()
            while await lag.now() > 0:
                assert time.monotonic() - ended < DRAIN_S, f"lag still {await lag.now()} {DRAIN_S}s after the stream"
                await asyncio.sleep(0.2)
        finally:
            stop.set()
            await asyncio.gather(sampler, *searches, return_exceptions=True)
            await producer.stop()
    assert max(lags) < MAX_LAG, lags
    assert all(status == 200 and took < SUMMARY_S for status, took in summaries), summaries
    assert 429 in answers and 200 in answers  # the per-key bound refused some, and searches did run
    assert set(answers) <= {200, 429, 503}, set(answers)
    stored = await client.get("/v1/metrics/summary", params={"start": now.isoformat(), "end": (now + timedelta(
        minutes=1)).isoformat()}, headers={"Authorization": f"Bearer {searcher_key}"})  # fmt: skip
    assert stored.json()["items"][0]["calls"] == STREAM
