"""Reads never stall ingestion: expensive searches run beside the inserts, bounded per key and in time.

The production wiring (``create_app``: ClickHouse through ``open_clickhouse_store``, the consumer, the query
limiter) runs on the session's chDB engine and broker, served over HTTP from a thread of this process, its garbage
collector tuned as the service's own process tunes it. One tenant's reader fires 50 concurrent full-text searches
over its 200,000 calls, over and over, from a process of its own, while 10,000 calls of another tenant stream in:
the consumer's lag, sampled every second, stays under 20,000 records and is 0 within 10 s after the stream ends,
and the other tenant's summary answers within 1 s throughout. With reads serialised behind the inserts (the reader
pool replaced by the writer's one thread) it fails: the lag is still 6,500 after 10 s and summaries take 4 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from llmops_kit.auth import hash_key
from llmops_kit.kafka.producer import EncodedEvent, EventProducer
from llmops_kit.kafka.topics import TopicCatalog
from llmops_schemas.v2 import CallRecorded
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import warehouse_topics
from llmops_warehouse.entrypoints.http import create_app
from llmops_warehouse.migrations import apply_migrations

from tests.fixtures.gateway import ServerThread
from tests.fixtures.kafka import commit_group_offsets
from tests.integration.warehouse.test_warehouse_consumer import _ends
from tests.unit.warehouse.call_store_contract import BASE, make_event, new_tenant

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STREAM = 10_000
SEARCHERS = 50
HISTORY = 200_000
"""Calls the searching tenant has already, about 8 KB of text each: what makes each search expensive (about 2 s alone
here, so that reads serialised behind the inserts hold them up for seconds; with 2 KB a search took 0.6 s and a
serialised read path still passed)."""
MAX_LAG = 20_000
DRAIN_S = 10.0
"""Ingestion goes on while the searches run (a stall never drains): 1.6-2.0 s alone on an AMD EPYC CI host. While
the 50 searching clients ran in this process (and took its interpreter from the consumer), it was 5-8 s alone and
11-12 s inside the whole suite there. A serialised read path also queues the other tenant's summary behind the
searches, which :data:`SUMMARY_S` bounds."""
SUMMARY_S = 1.0
"""A summary of the other tenant while 50 searches run (the issue's bound): 4 s and more with a serialised read path
(queued behind the searches). 0.05-0.63 s on an AMD EPYC CI host. The process serving the warehouse has its collector
tuned as the service's own process has (``ServerThread(tuned_gc=True)``): untuned, full collections of the test
process's heap held the interpreter, and the warehouse's event loop with it, for 0.3-1.3 s (longer inside the whole
suite), which is what the 1.0-1.5 s summaries seen before measured."""
TOPIC = CallRecorded.topic


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
    kafka_bootstrap: str,
    topic_catalog: TopicCatalog,
    chdb_client: Any,
    chdb_url: str,
    scratch_database: str,
    tmp_path: Path,
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], str, list[TopicPartition]]]:
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
        query_timeout_s=30,  # four searches at once on two cores take about 10 s each: they must answer, not time out
    )
    partitions = [TopicPartition(TOPIC, p) for p in range(topic_catalog.get(TOPIC).partitions)]
    apply_migrations(chdb_client, database=scratch_database)
    _seed_history(chdb_client, scratch_database, searcher)
    # The group consumes every topic the warehouse stores: started at their ends, it reads only what the test sends
    # (from offset 0 it would first store every earlier test's events, which the calls' lag would wait behind).
    await commit_group_offsets(kafka_bootstrap, group, await _ends(kafka_bootstrap, warehouse_topics()))
    # Its own thread and loop, served over real HTTP, the collector tuned as the service's process tunes it.
    with ServerThread(create_app(settings), tuned_gc=True) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            yield client, keys, group, partitions


def _seed_history(client: Any, database: str, tenant: str) -> None:
    """``HISTORY`` calls of ``tenant`` over the last 6 days, generated by ClickHouse itself (fast to write)."""
    client.command(
        f"INSERT INTO {database}.calls (event_id, tenant_id, call_id, app, environment, model, provider,"
        " message_roles, message_contents, message_names, message_tool_call_ids, output, parameters, latency_ms,"
        " status, started_at, received_at)"
        " SELECT generateUUIDv4(number), {tenant:String}, concat('old-', toString(number)), 'chat', 'production',"
        " 'gpt-4o', 'openai', ['user'], [concat(toString(number), repeat(' lorem ipsum dolor', 440))], [''], [''],"
        " 'ok', '{}', 100, 'ok', now64(3) - toIntervalSecond(number % 518400), now64(3)"
        f" FROM numbers({HISTORY})",
        parameters={"tenant": tenant},
    )


SEARCHERS_SCRIPT = """
import asyncio, collections, json, os, sys, threading, uuid
import httpx

async def search_forever(client, key, stop, answers):
    # A text search that matches nothing (a full scan of the window), again and again.
    headers = {"Authorization": f"Bearer {key}"}
    while not stop.is_set():
        response = await client.get("/v1/calls", params={"text": f"absent-{uuid.uuid4().hex}"}, headers=headers)
        answers[response.status_code] += 1
        if response.status_code == 429:
            await asyncio.sleep(float(response.headers["retry-after"]))  # a well-behaved client

async def main(url, key, count):
    stop, answers, loop = asyncio.Event(), collections.Counter(), asyncio.get_running_loop()
    threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stop.set)), daemon=True).start()
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=count)) as client:
        print("started", flush=True)
        await asyncio.gather(*(search_forever(client, key, stop, answers) for _ in range(count)))
    print(json.dumps(answers), flush=True)

asyncio.run(main(sys.argv[1], os.environ["SEARCHER_KEY"], int(sys.argv[2])))
"""
"""The searching tenant's clients, in a process of their own as they would be: 50 clients in the warehouse's
process would take its interpreter from the consumer, which is the test's harness and not the platform. It
searches until its standard input closes, then prints how many answers of each status it got."""


@contextlib.contextmanager
def _searchers(url: str, key: str) -> Iterator[Callable[[], dict[int, int]]]:
    """The searchers running; the callable stops them and returns their answers by status."""
    process = subprocess.Popen(
        [sys.executable, "-c", SEARCHERS_SCRIPT, url, str(SEARCHERS)], env={**os.environ, "SEARCHER_KEY": key},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "started"
    answers: dict[int, int] = {}

    def stop() -> dict[int, int]:
        if not answers and process.poll() is None:
            out, _ = process.communicate("", timeout=60)
            answers.update({int(code): n for code, n in json.loads(out.strip().splitlines()[-1]).items()})
        return answers

    try:
        yield stop
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_searches_never_stall_ingestion(
    warehouse: tuple[httpx.AsyncClient, dict[str, str], str, list[TopicPartition]], kafka_bootstrap: str
) -> None:
    client, keys, group, partitions = warehouse
    (_, searcher_key), (other, other_key) = keys.items()
    producer = EventProducer(kafka_bootstrap, service="isolation-test")
    await producer.start()
    stop = asyncio.Event()
    lags: list[int] = []
    summaries: list[tuple[int, float]] = []
    now = BASE + timedelta(days=1)
    # Serialised before the clock starts: the warehouse serves from this process, whose interpreter the encoding
    # of 10,000 events would otherwise take from it as the stream starts (the platform's producers are elsewhere).
    calls = [
        EncodedEvent.of(make_event(other, started_at=now + timedelta(milliseconds=i), content="x" * 400))
        for i in range(STREAM)
    ]
    other_headers = {"Authorization": f"Bearer {other_key}"}
    cold = await client.get("/v1/metrics/summary", headers=other_headers)  # before: the bound is about searches
    assert cold.status_code == 200, cold.text
    async with Lag(kafka_bootstrap, group, partitions) as lag:

        async def sample() -> None:
            while not stop.is_set():
                lags.append(await lag.now())
                started = time.monotonic()
                response = await client.get("/v1/metrics/summary", headers=other_headers)
                summaries.append((response.status_code, time.monotonic() - started))
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

        with _searchers(str(client.base_url), searcher_key) as stop_searching:
            sampler = asyncio.create_task(sample())
            try:
                for i in range(0, STREAM, 500):
                    await producer.publish_encoded(calls[i : i + 500])
                ended = time.monotonic()
                while await lag.now() > 0:
                    assert time.monotonic() - ended < DRAIN_S, (
                        f"lag still {await lag.now()} {DRAIN_S}s after: {lags}, {summaries}"
                    )
                    await asyncio.sleep(0.2)
            finally:
                stop.set()
                await asyncio.gather(sampler, return_exceptions=True)
                await producer.stop()
                answers = stop_searching()
    assert max(lags) < MAX_LAG, lags
    assert all(status == 200 and took < SUMMARY_S for status, took in summaries), summaries
    assert 429 in answers and 200 in answers  # the per-key bound refused some, and searches did run
    assert set(answers) <= {200, 429, 503}, set(answers)
    stored = await client.get("/v1/metrics/summary", params={"start": now.isoformat(), "end": (now + timedelta(
        minutes=1)).isoformat()}, headers={"Authorization": f"Bearer {other_key}"})  # fmt: skip
    assert stored.json()["items"][0]["calls"] == STREAM
