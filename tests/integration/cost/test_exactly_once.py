"""Cost per call on the session broker and chDB: the stored aggregates count every call once, across kill -9.

The cost service runs as a child process (production's entry point, ``llmops-cost``, through ``cost_child.py``)
with small batches; it kills itself with SIGKILL after Kafka acknowledged the costs of its fifth batch and before
it committed the calls' offsets, and is started again under the same consumer group. The restarted process
prices that batch again, under the same event ids: the topic holds those calls' costs twice (checked, so the
test knows the crash happened where it matters), the warehouse and the report built on it once. The report's
sums are compared with the catalog's arithmetic done here, in decimal: equal, not approximately equal. A budget
over the tenant's spend, its limit exactly what the calls cost, shows that spend in the restarted service, and each
of its thresholds (50, 80, 100 %) has one event on ``llmops.budgets.events``, not two.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer
from llmops_cost.prices import PriceBook, Usage, cost_of, load_catalog
from llmops_kit.auth import ANY_TENANT, SERVICE_ROLE, ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.infra.ports import free_port
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas import CloudEvent
from llmops_schemas.registry import parse_event
from llmops_schemas.v1 import BudgetConfigured, BudgetScope, BudgetStateChanged
from llmops_schemas.v2 import CostRecorded
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.entrypoints.http import create_app as warehouse_app

from tests.fixtures.gateway import ServerThread
from tests.integration.warehouse.test_warehouse_consumer import _end_offsets, wait_until
from tests.unit.evaluation.calls import call

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADMIN = "llmops_it_cost_admin_key_00000000000000000"
SERVICE = "llmops_it_cost_service_key_000000000000000"
CALLS = 3000
MODELS = ("gpt-4o-mini", "gpt-4o", "claude-haiku-4-5", "no-such-model-anywhere")
REPO = Path(__file__).resolve().parents[3]
CHILD = Path(__file__).with_name("cost_child.py")
BATCH, KILL_AFTER = 50, 5


class Platform:
    """One tenant's warehouse (sink + query API over HTTP) and the calls it was sent."""

    def __init__(self, tenant: str, url: str, bootstrap: str, tmp_path: Path, start: datetime) -> None:
        self.tenant, self.url, self.bootstrap, self.tmp_path, self.start = tenant, url, bootstrap, tmp_path, start

    def keys_file(self) -> Path:
        path = self.tmp_path / "cost-keys.yaml"
        record = {"id": "it-admin", "tenant_id": self.tenant, "role": "admin", "sha256": hash_key(ADMIN)}
        path.write_text(yaml.safe_dump({"keys": [record]}))
        return path


def _calls(tenant: str, start: datetime) -> list[Any]:
    return [
        call(
            tenant,
            call_id=f"call-{i:05d}",
            app=f"app-{i % 3}",
            model=MODELS[i % len(MODELS)],
            started_at=start + timedelta(seconds=i),
            usage={"prompt_tokens": 100 + i, "completion_tokens": 10 + i % 97, "total_tokens": 110 + i + i % 97},
        )
        for i in range(CALLS)
    ]


def _budget(tenant: str, limit: Decimal) -> CloudEvent[BudgetConfigured]:
    """An alert budget over the tenant's whole spend whose limit is exactly what the calls cost."""
    budget = BudgetConfigured(
        budget_id="all-spend", name="all spend", scope=BudgetScope(kind="tenant"), period="total", limit=limit,
        version=1, updated_by="it-admin", updated_at=datetime.now(UTC),
    )  # fmt: skip
    return CloudEvent.wrap(budget, source="/tests", tenant_id=tenant)


async def budget_events(bootstrap: str, tenant: str) -> list[BudgetStateChanged]:
    """Every budget event of ``tenant`` on the topic, duplicates included (read up to its end now)."""
    ends = await _end_offsets(bootstrap, BudgetStateChanged.topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(list(ends))
        found: list[BudgetStateChanged] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [parse_event(r.value).data for r in records if r.key == tenant.encode()]
        return found
    finally:
        await consumer.stop()


@pytest.fixture
async def platform(
    kafka_bootstrap: str, chdb_client: Any, warehouse_database: str, tmp_path: Path
) -> AsyncIterator[Platform]:
    tenant = f"t-{uuid.uuid4().hex[:16]}"
    keys = ApiKeyStore(
        [
            ApiKeyRecord(id="it-admin", tenant_id=tenant, role="admin", sha256=hash_key(ADMIN)),
            ApiKeyRecord(id="it-cost", tenant_id=ANY_TENANT, role=SERVICE_ROLE, sha256=hash_key(SERVICE)),
        ]
    )
    producer = EventProducer(kafka_bootstrap, service="cost-it")
    store = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    settings = WarehouseSettings(kafka_bootstrap_servers=kafka_bootstrap, consumer_group=f"wh-{uuid.uuid4().hex[:12]}")
    sink = build_consumer(settings, store, producer)
    app = warehouse_app(
        WarehouseSettings(api_keys_file=None),
        ports=WarehousePorts(ClickHouseEventStore(chdb_client, warehouse_database), keys),
    )
    await producer.start()
    await sink.start()
    try:
        with ServerThread(app) as server:
            start = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
            platform = Platform(tenant, server.url, kafka_bootstrap, tmp_path, start)
            await producer.publish_many([_budget(tenant, sum(reference(platform).values()))])
            await producer.publish_many(_calls(tenant, start))
            yield platform
    finally:
        await sink.stop()
        await store.stop()
        await producer.stop()


@contextmanager
def cost_service(platform: Platform, group: str, kill_after: int = 0) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": platform.bootstrap,
        "LLMOPS_API_KEYS_FILE": str(platform.keys_file()),
        "COST_PORT": str(port),
        "COST_CONSUMER_GROUP": group,
        "COST_BATCH_SIZE": str(BATCH),
        "COST_KILL_AFTER_BATCHES": str(kill_after),
        "PYTHONPATH": str(REPO),
        "LLMOPS_WAREHOUSE_URL": platform.url,
        "LLMOPS_SERVICE_KEY": SERVICE,
        "LOG_LEVEL": "WARNING",
    }
    child = subprocess.Popen([sys.executable, str(CHILD)], env=env, cwd=REPO)
    try:
        yield child, f"http://127.0.0.1:{port}"
    finally:
        if child.poll() is None:
            child.terminate()
            child.wait(30)


async def topic_records(bootstrap: str) -> int:
    return sum((await _end_offsets(bootstrap, CostRecorded.topic)).values())


async def stored(platform: Platform) -> list[dict[str, Any]]:
    """Every cost record of the tenant the warehouse serves (one row per event id)."""
    rows: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=platform.url, headers=headers, timeout=30) as client:
        cursor = None
        while True:
            params = {"limit": 1000, "start": platform.start.isoformat(), **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/events/cost_records", params=params)).json()
            rows += page["items"]
            if not (cursor := page.get("next_cursor")):
                return rows


def reference(platform: Platform) -> dict[tuple[str, str], Decimal]:
    """Spend per hour and model by the catalog's arithmetic, done here from the calls that were sent."""
    book, sums = PriceBook(load_catalog()), {}
    for event in _calls(platform.tenant, platform.start):
        data = event.data
        price = book.lookup(platform.tenant, data.model, data.started_at)
        assert data.usage is not None
        amount = cost_of(price, Usage(data.usage.prompt_tokens, data.usage.completion_tokens)) if price else Decimal(0)
        key = (data.started_at.replace(minute=0, second=0).isoformat(), data.model)
        sums[key] = sums.get(key, Decimal(0)) + amount
    return sums


async def test_costs_are_counted_once_across_a_kill_9(platform: Platform) -> None:
    group = f"cost-it-{uuid.uuid4().hex[:12]}"
    before = await topic_records(platform.bootstrap)
    with cost_service(platform, group, kill_after=KILL_AFTER) as (child, _):
        await asyncio.wait_for(asyncio.to_thread(child.wait), timeout=120)
        assert child.returncode == -signal.SIGKILL
    assert 0 < await topic_records(platform.bootstrap) - before <= KILL_AFTER * BATCH
    with cost_service(platform, group) as (_, url):
        rows: list[dict[str, Any]] = []

        async def all_stored() -> bool:
            rows[:] = await stored(platform)
            return len(rows) >= CALLS

        await wait_until(all_stored, f"{CALLS} cost records in the warehouse", timeout_s=240)
        assert sorted(r["data"]["call_id"] for r in rows) == [f"call-{i:05d}" for i in range(CALLS)]
        unpriced = [r for r in rows if r["data"]["pricing"] == "unpriced"]
        assert len(unpriced) == CALLS // len(MODELS)
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as client:
            await wait_until(lambda: _ready(client), "the cost service ready", timeout_s=60)
            params = {"group_by": "model", "period": "hour", "start": platform.start.isoformat(),
                      "end": (platform.start + timedelta(days=1)).isoformat()}  # fmt: skip
            answer = await client.get("/v1/costs/report", params=params)
        await _spend_and_thresholds_counted_once(platform, url)
    assert answer.status_code == 200, answer.text
    report = {
        (datetime.fromisoformat(r["period_start"]).isoformat(), r["group"]): Decimal(r["usd"]) for r in answer.json()
    }
    assert report == reference(platform)
    assert sum(r["calls"] for r in answer.json()) == CALLS
    assert await topic_records(platform.bootstrap) - before > CALLS  # the killed batch was priced twice


async def _spend_and_thresholds_counted_once(platform: Platform, url: str) -> None:
    """The restarted service's budget holds the reference spend, and each threshold's event is on the topic once."""
    total = sum(reference(platform).values())
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as client:

        async def spent() -> bool:
            answer = await client.get("/v1/budgets/all-spend")
            return answer.status_code == 200 and Decimal(answer.json()["spent"]) == total

        await wait_until(spent, "the budget's spend equal to the calls' cost", timeout_s=60)

    async def three_events() -> bool:
        return len(await budget_events(platform.bootstrap, platform.tenant)) >= 3

    await wait_until(three_events, "the budget's three threshold events", timeout_s=60)
    events = await budget_events(platform.bootstrap, platform.tenant)
    assert sorted(e.threshold for e in events if e.threshold is not None) == [0.5, 0.8, 1.0]


async def _ready(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/readyz")).status_code == 200
    except httpx.HTTPError:
        return False
