"""Replays on the session broker and chDB.

* a topic offset range is read with the replay's own reader (no consumer group); only the caller's calls are judged;
* stored calls are read back through the warehouse's query API (served over HTTP with a service key), scored
  beside the online ones, and a replay killed with SIGKILL resumes.

The kill -9 test runs the evaluation service as a child process (``replay_child.py``: production's entry point
plus a ``counting`` kind that logs each judgment to a file) and counts the judgments of the restarted process:
at most the calls not yet checkpointed when it was killed plus one batch. Deduplication in the warehouse
would hide a restart from zero; the count does not.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from llmops_evaluation.config import EvaluationSettings
from llmops_kit.auth import ANY_TENANT, SERVICE_ROLE, ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.infra.ports import free_port
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas.v2 import CallRecorded
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.entrypoints.http import create_app as warehouse_app

from tests.fixtures.gateway import ServerThread
from tests.integration.evaluation.test_online_scoring import keys_file, served
from tests.integration.warehouse.test_warehouse_consumer import _end_offsets, wait_until
from tests.unit.evaluation.calls import call

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADMIN = "llmops_it_replay_admin_key_000000000000000"
SERVICE = "llmops_it_replay_service_key_0000000000000"
CALLS = 1200
BATCH = 100
CHILD = Path(__file__).with_name("replay_child.py")
REPO = Path(__file__).resolve().parents[3]


class Platform:
    """The warehouse (sink + query API over HTTP) of one tenant's test, and the calls it stored."""

    def __init__(self, tenant: str, url: str, bootstrap: str, tmp_path: Path) -> None:
        self.tenant, self.url, self.bootstrap, self.tmp_path = tenant, url, bootstrap, tmp_path
        self.start = datetime.now(UTC) - timedelta(hours=1)
        self.end = self.start + timedelta(minutes=30)

    def warehouse(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)

    def keys_file(self) -> Path:
        path = self.tmp_path / "evaluation-keys.yaml"
        record = {"id": "it-admin", "tenant_id": self.tenant, "role": "admin", "sha256": hash_key(ADMIN)}
        path.write_text(yaml.safe_dump({"keys": [record]}))
        return path


@pytest.fixture
async def platform(
    kafka_bootstrap: str, chdb_client: Any, warehouse_database: str, tmp_path: Path
) -> AsyncIterator[Platform]:
    tenant = f"t-{uuid.uuid4().hex[:16]}"
    keys = ApiKeyStore(
        [
            ApiKeyRecord(id="it-admin", tenant_id=tenant, role="admin", sha256=hash_key(ADMIN)),
            ApiKeyRecord(id="it-evaluation", tenant_id=ANY_TENANT, role=SERVICE_ROLE, sha256=hash_key(SERVICE)),
        ]
    )
    producer = EventProducer(kafka_bootstrap, service="replay-it")
    store = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    group = f"wh-{uuid.uuid4().hex[:12]}"
    sink = build_consumer(
        WarehouseSettings(kafka_bootstrap_servers=kafka_bootstrap, consumer_group=group), store, producer
    )
    app = warehouse_app(
        WarehouseSettings(api_keys_file=None),
        ports=WarehousePorts(ClickHouseEventStore(chdb_client, warehouse_database), keys),
    )
    await producer.start()
    await sink.start()
    try:
        with ServerThread(app) as server:
            platform = Platform(tenant, server.url, kafka_bootstrap, tmp_path)
            step = (platform.end - platform.start) / CALLS
            calls = [
                call(tenant, call_id=f"call-{i:05d}", output=f"answer {i}", started_at=platform.start + i * step)
                for i in range(CALLS)
            ]
            await producer.publish_many(calls)
            await wait_until(lambda: stored_calls(platform, CALLS), f"{CALLS} calls in the warehouse", timeout_s=120)
            yield platform
    finally:
        await sink.stop()
        await store.stop()
        await producer.stop()


async def stored_calls(platform: Platform, count: int) -> bool:
    async with platform.warehouse() as client:
        page = await client.get(
            "/v1/calls", params={"start": platform.start.isoformat(), "end": platform.end.isoformat(), "limit": 1000}
        )
        found = len(page.json()["items"])
        while page.json().get("next_cursor") and found < count:
            page = await client.get(
                "/v1/calls",
                params={"start": platform.start.isoformat(), "end": platform.end.isoformat(), "limit": 1000,
                        "cursor": page.json()["next_cursor"]},
            )  # fmt: skip
            found += len(page.json()["items"])
    return found >= count


@contextmanager
def evaluation(platform: Platform, count_file: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The evaluation service as a child process (its own consumer group), until killed or the block ends."""
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": platform.bootstrap,
        "LLMOPS_API_KEYS_FILE": str(platform.keys_file()),
        "EVALUATION_PORT": str(port),
        "EVALUATION_CONSUMER_GROUP": f"evaluation-it-{uuid.uuid4().hex[:12]}",
        "LLMOPS_WAREHOUSE_URL": platform.url,
        "LLMOPS_SERVICE_KEY": SERVICE,
        "REPLAY_COUNT_FILE": str(count_file),
        "PYTHONPATH": str(REPO),
        "LOG_LEVEL": "WARNING",
    }
    child = subprocess.Popen([sys.executable, str(CHILD)], env=env, cwd=REPO)
    try:
        yield child, f"http://127.0.0.1:{port}"
    finally:
        if child.poll() is None:
            child.terminate()
            child.wait(30)


async def ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {ADMIN}"}) as client:
            return (await client.get(f"{url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def progress(url: str, replay_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {ADMIN}"}) as client:
        response = await client.get(f"{url}/v1/replays/{replay_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def judgments(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


async def replay_scores(platform: Platform, replay_id: str) -> dict[str, int]:
    """Stored passes of ``replay_id`` per call id (read through the warehouse's generic event API)."""
    found: dict[str, int] = {}
    async with platform.warehouse() as client:
        cursor = None
        while True:
            params = {"limit": 1000, "start": platform.start.isoformat(), **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/events/evaluation_scores", params=params)).json()
            for item in page["items"]:
                if item["data"].get("replay_id") == replay_id:
                    found[item["data"]["call_id"]] = found.get(item["data"]["call_id"], 0) + 1
            if not (cursor := page.get("next_cursor")):
                return found


async def test_a_replay_killed_with_sigkill_resumes_where_it_stopped(platform: Platform, tmp_path: Path) -> None:
    replay_id = "rp-kill9"
    body = {
        "replay_id": replay_id,
        "evaluators": [{"name": "counted", "kind": "counting"}],
        "start": platform.start.isoformat(),
        "end": platform.end.isoformat(),
        "rate_limit_per_s": 300,
        "batch_size": BATCH,
    }
    first, second = tmp_path / "first.count", tmp_path / "second.count"
    with evaluation(platform, first) as (child, url):
        await wait_until(lambda: ready(url), "the first evaluation process ready", timeout_s=120)
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {ADMIN}"}) as client:
            started = await client.post(f"{url}/v1/replays", json=body)
        assert started.status_code == 201, started.text

        async def a_third_done() -> bool:
            return (await progress(url, replay_id))["processed"] >= CALLS // 3

        await wait_until(a_third_done, "a third of the replay checkpointed", timeout_s=120)
        checkpointed = (await progress(url, replay_id))["processed"]
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert judgments(first) >= checkpointed

    with evaluation(platform, second) as (_, url):
        await wait_until(lambda: ready(url), "the restarted evaluation process ready", timeout_s=120)

        async def completed() -> bool:
            return (await progress(url, replay_id))["status"] == "completed"

        await wait_until(completed, "the resumed replay completed", timeout_s=120)
        final = await progress(url, replay_id)

    assert (final["processed"], final["scored"]) == (CALLS, CALLS)
    # The restarted process judged the calls left after the checkpoint it saw (plus at most the batch in flight),
    # not the whole range again.
    after_restart = judgments(second)
    assert 0 < after_restart <= CALLS - checkpointed + BATCH, (checkpointed, after_restart)

    # Every call's replay pass is stored once, the batch judged twice included ("completed" means published: the
    # warehouse stores the last batch a moment later).
    async def all_stored() -> bool:
        return len(await replay_scores(platform, replay_id)) >= CALLS

    await wait_until(all_stored, "every replayed pass stored", timeout_s=120)
    stored = await replay_scores(platform, replay_id)
    assert len(stored) == CALLS and set(stored.values()) == {1}


async def test_a_topic_offset_range_is_replayed_for_the_callers_tenant_only(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    tenant, other = f"t-{uuid.uuid4().hex[:16]}", f"t-{uuid.uuid4().hex[:16]}"
    producer = EventProducer(kafka_bootstrap, service="replay-it")
    await producer.start()
    settings = EvaluationSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        api_keys_file=keys_file(tmp_path, tenant),
        consumer_group=f"evaluation-it-{uuid.uuid4().hex[:12]}",
    )
    try:
        async with served(settings) as client:
            before = await topic_ends(kafka_bootstrap)
            mine = [call(tenant, call_id=f"topic-{i}", output="x" * i) for i in range(30)]
            await producer.publish_many([*mine, *(call(other, call_id=f"theirs-{i}") for i in range(10))])
            after = await topic_ends(kafka_bootstrap)
            ranges = [{"partition": p, "start": before[p]} for p in after if after[p] > before[p]]
            body = {
                "replay_id": "rp-topic",
                "evaluators": [{"name": "short", "kind": "length", "params": {"max_chars": 9}}],
            }
            nowhere = await client.post("/v1/replays", json={**body, "source": "topic", "ranges": [{"partition": 999}]})
            assert nowhere.status_code == 422 and "no partition 999" in nowhere.json()["detail"]
            started = await client.post("/v1/replays", json={**body, "source": "topic", "ranges": ranges})
            assert started.status_code == 201, started.text
            assert started.json()["expected"] == sum(after[p] - before[p] for p in after)

            async def completed() -> bool:
                return (await client.get("/v1/replays/rp-topic")).json()["status"] == "completed"

            await wait_until(completed, "the topic replay completed", timeout_s=60)
            state = (await client.get("/v1/replays/rp-topic")).json()
    finally:
        await producer.stop()
    # Every record of the ranges was read (the other tenant's too), only the caller's calls were judged, and the
    # checkpoint ends at the ranges' ends.
    assert (state["processed"], state["scored"]) == (40, 30)
    assert {r["partition"]: r["start"] for r in state["next_offsets"]} == {
        r["partition"]: after[r["partition"]] for r in ranges
    }


async def topic_ends(bootstrap: str) -> dict[int, int]:
    return {tp.partition: end for tp, end in (await _end_offsets(bootstrap, CallRecorded.topic)).items()}
