"""Budget threshold events exactly once with two cost-service replicas, across a kill -9 and a restart.

Two ``llmops-cost`` processes (production's entry point) share the pricer's consumer group and the thresholds'
group on the session broker. Both are ready before the calls come, so both ledgers count every cost event and see
every crossing at once (each used to publish it: the topic held every threshold event twice). Each of the
budget's three events is on ``llmops.budgets.events`` once. Then one replica is killed with SIGKILL and started
again: the group moves the partitions, a second budget defined afterwards (already over all its thresholds)
brings its three events, and the first budget's are still there once each.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import yaml
from llmops_cost.prices import PriceBook, Usage, cost_of, load_catalog
from llmops_kit.auth import hash_key
from llmops_kit.infra.ports import free_port
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import BudgetConfigured, BudgetScope
from llmops_schemas.v2 import CallRecorded

from tests.integration.cost.test_exactly_once import budget_events
from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.evaluation.calls import call

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADMIN = "llmops_it_cost_replicas_admin_key_0000000000"
REPO = Path(__file__).resolve().parents[3]
CALLS = 200
MODEL = "gpt-4o-mini"


def _calls(tenant: str, start: datetime) -> list[CloudEvent[CallRecorded]]:
    return [
        call(tenant, call_id=f"call-{i:04d}", model=MODEL, started_at=start + timedelta(seconds=i),
             usage={"prompt_tokens": 1000 + i, "completion_tokens": 100, "total_tokens": 1100 + i})
        for i in range(CALLS)
    ]  # fmt: skip


def _cost(calls: list[CloudEvent[CallRecorded]], tenant: str) -> Decimal:
    book, total = PriceBook(load_catalog()), Decimal(0)
    for event in calls:
        data = event.data
        price = book.lookup(tenant, MODEL, data.started_at)
        assert price is not None and data.usage is not None
        total += cost_of(price, Usage(data.usage.prompt_tokens, data.usage.completion_tokens))
    return total


def _budget(tenant: str, budget_id: str, limit: Decimal) -> CloudEvent[BudgetConfigured]:
    budget = BudgetConfigured(
        budget_id=budget_id, name=budget_id, scope=BudgetScope(kind="tenant"), period="total", limit=limit,
        version=1, updated_by="it-admin", updated_at=datetime.now(UTC),
    )  # fmt: skip
    return CloudEvent.wrap(budget, source="/tests", tenant_id=tenant)


class Replicas:
    """Cost-service processes of one deployment (same groups), started and killed by name."""

    def __init__(self, bootstrap: str, tenant: str, tmp_path: Path) -> None:
        self.tenant = tenant
        keys = tmp_path / "keys.yaml"
        record = {"id": "it-admin", "tenant_id": tenant, "role": "admin", "sha256": hash_key(ADMIN)}
        keys.write_text(yaml.safe_dump({"keys": [record]}))
        suffix = uuid.uuid4().hex[:8]
        self.env = {
            **os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "LLMOPS_API_KEYS_FILE": str(keys),
            "COST_CONSUMER_GROUP": f"cost-{suffix}", "COST_THRESHOLDS_GROUP": f"cost-thresholds-{suffix}",
            "COST_BATCH_SIZE": "20", "PYTHONPATH": str(REPO), "LOG_LEVEL": "WARNING",
        }  # fmt: skip
        self.running: dict[str, tuple[subprocess.Popen[bytes], str]] = {}

    def start(self, name: str) -> None:
        port = free_port()
        argv = [sys.executable, "-m", "llmops_cost.entrypoints.main"]
        child = subprocess.Popen(argv, env={**self.env, "COST_PORT": str(port)}, cwd=REPO)
        self.running[name] = (child, f"http://127.0.0.1:{port}")

    def kill(self, name: str) -> None:
        child, _ = self.running.pop(name)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        assert child.returncode == -signal.SIGKILL

    async def ready(self) -> None:
        async def all_ready() -> bool:
            async with httpx.AsyncClient(timeout=5) as client:
                for _, url in self.running.values():
                    try:
                        if (await client.get(f"{url}/readyz")).status_code != 200:
                            return False
                    except httpx.HTTPError:
                        return False
            return True

        await wait_until(all_ready, "every replica ready", timeout_s=120)

    def stop(self) -> None:
        for child, _ in self.running.values():
            if child.poll() is None:
                child.terminate()
                child.wait(30)


@pytest.fixture
def replicas(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Replicas]:
    running = Replicas(kafka_bootstrap, f"t-{uuid.uuid4().hex[:16]}", tmp_path)
    try:
        yield running
    finally:
        running.stop()


async def test_each_threshold_event_is_sent_once_by_two_replicas_and_after_a_kill_9(
    replicas: Replicas, kafka_bootstrap: str
) -> None:
    tenant = replicas.tenant
    start = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    calls = _calls(tenant, start)
    producer = EventProducer(kafka_bootstrap, service="cost-replicas-it")
    await producer.start()
    try:
        await producer.publish_many([_budget(tenant, "all-spend", _cost(calls, tenant))])
        replicas.start("a")
        replicas.start("b")
        await replicas.ready()
        await producer.publish_many(calls)

        async def events(count: int) -> bool:
            return len(await budget_events(kafka_bootstrap, tenant)) >= count

        await wait_until(lambda: events(3), "the budget's three threshold events", timeout_s=120)
        replicas.kill("a")  # whichever owned the tenant's partition, the group moves it on
        replicas.start("a")
        await replicas.ready()
        await producer.publish_many([_budget(tenant, "after-restart", Decimal("0.000001"))])
        await wait_until(lambda: events(6), "the second budget's three threshold events", timeout_s=180)
    finally:
        await producer.stop()
    found = await budget_events(kafka_bootstrap, tenant)
    assert sorted((e.budget_id, e.threshold) for e in found) == [
        ("after-restart", 0.5), ("after-restart", 0.8), ("after-restart", 1.0),
        ("all-spend", 0.5), ("all-spend", 0.8), ("all-spend", 1.0),
    ]  # fmt: skip
