"""LLM-as-judge end to end on the session broker and chDB, through the real gateway to a deterministic upstream.

The gateway (its app under uvicorn, recording to Kafka) serves an application model, a shadow deployment's
copy and a judge model from one deterministic upstream (judge_upstream.py); the warehouse stores every event
and serves its query API; the evaluation service runs as production wires it, with the service key. Then:

* a call through the gateway is judged with a rubric from the prompt registry (by label): the score, the
  judge's model and the rubric's version are stored; the judge's own call is recorded as platform traffic;
* its shadow copy is judged against it in both orders and stored with ``compared_call_id``;
* a judge answer without a score is stored as ``malformed``, a judge that hangs as ``timeout``, while the
  heuristic pass scores the same calls on time;
* a judge naming a route or a rubric that does not exist is refused with 422 when it is set.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from llmops_evaluation.config import EvaluationSettings
from llmops_kit.auth import ANY_TENANT, ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.entrypoints.http import create_app as warehouse_app

from tests.fixtures.gateway import ServerThread, serve_gateway
from tests.integration.evaluation.judge_upstream import create_judge_upstream
from tests.integration.evaluation.test_online_scoring import served
from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.evaluation.calls import call

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

ADMIN = "llmops_it_judge_admin_key_" + uuid.uuid4().hex
SERVICE = "llmops_it_judge_service_key_" + uuid.uuid4().hex
TENANT = f"it-judge-{uuid.uuid4().hex[:8]}"
APP = "shop"
RUBRIC = {
    "template": [
        {"role": "system", "content": "You grade answers from 1 to 5. Reply 'Score: n/5' and a reason."},
        {
            "role": "user",
            "content": "<question>{{ question }}</question>\n<context>{{ context }}</context>\n"
            "<answer>{{ answer }}</answer>",
        },
    ],
    "variables": [{"name": "question"}, {"name": "context"}, {"name": "answer"}],
    "labels": ["production"],
}
PAIRWISE_RUBRIC = {
    "template": [
        {
            "role": "user",
            "content": "Which answer is better? Reply 'Preferred: A', 'Preferred: B' or 'Preferred: tie'.\n"
            "<question>{{ question }}</question>\n"
            "<answer_a>{{ answer_a }}</answer_a>\n<answer_b>{{ answer_b }}</answer_b>",
        }
    ],
    "variables": [{"name": "question"}, {"name": "context", "default": ""}, {"name": "answer_a"}, {"name": "answer_b"}],
}


def keys_yaml(*records: ApiKeyRecord) -> str:
    return yaml.safe_dump({"keys": [r.model_dump() for r in records]})


ADMIN_RECORD = ApiKeyRecord(id="it-admin", tenant_id=TENANT, role="admin", sha256=hash_key(ADMIN))
SERVICE_RECORD = ApiKeyRecord(id="it-service", tenant_id=ANY_TENANT, role="service", sha256=hash_key(SERVICE))


@pytest.fixture(scope="module")
def upstream() -> Iterator[ServerThread]:
    with ServerThread(create_judge_upstream()) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, upstream: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    routes = (
        f"upstreams:\n  - {{name: stub, base_url: '{upstream.url}/v1'}}\n"
        "models:\n"
        "  app-model: [{backend: openai, upstream: stub, model: app-a, timeout_s: 5}]\n"
        "  app-model-b: [{backend: openai, upstream: stub, model: app-b, timeout_s: 5}]\n"
        "  judge: [{backend: openai, upstream: stub, model: judge, timeout_s: 120}]\n"
    )
    folder = tmp_path_factory.mktemp("gateway-judge")
    keys = keys_yaml(ADMIN_RECORD, SERVICE_RECORD)
    with serve_gateway(kafka_bootstrap, folder, keys=keys, key=ADMIN, routes=routes) as url:
        yield url


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[EventProducer]:
    producer = EventProducer(kafka_bootstrap, service="judge-it")
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def warehouse(
    kafka_bootstrap: str, producer: EventProducer, chdb_client: Any, warehouse_database: str
) -> AsyncIterator[str]:
    """The warehouse: its consumer storing every event, its query API on a real port (the evaluation service's
    platform client and the test read it)."""
    store = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    group = f"wh-judge-{uuid.uuid4().hex[:12]}"
    sink = build_consumer(
        WarehouseSettings(kafka_bootstrap_servers=kafka_bootstrap, consumer_group=group), store, producer
    )
    keys = ApiKeyStore([ADMIN_RECORD, SERVICE_RECORD])
    api = warehouse_app(
        WarehouseSettings(api_keys_file=None),
        ports=WarehousePorts(ClickHouseEventStore(chdb_client, warehouse_database), keys),
    )
    await sink.start()
    try:
        with ServerThread(api) as server:
            yield server.url
    finally:
        await sink.stop()
        await store.stop()


def evaluator(kind: str, **params: Any) -> dict[str, Any]:
    return {"kind": kind, "app": APP, "params": params}


async def scores(warehouse: str, call_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=warehouse, headers={"Authorization": f"Bearer {ADMIN}"}) as client:
        page = await client.get("/v1/events/evaluation_scores", params={"call_id": call_id, "limit": 100})
    assert page.status_code == 200, page.text
    return [item for row in page.json()["items"] for item in [row["data"]]]


def items_of(rows: list[dict[str, Any]], name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(row, i) for row in rows for i in row["scores"] if i["evaluator"]["name"] == name]


async def platform_calls(warehouse: str) -> list[dict[str, Any]]:
    """The tenant's stored platform calls, newest first (at most 200)."""
    async with httpx.AsyncClient(base_url=warehouse, headers={"Authorization": f"Bearer {ADMIN}"}) as client:
        items: list[dict[str, Any]] = (
            await client.get("/v1/calls", params={"origin": "platform", "limit": 200})
        ).json()["items"]
    return items


async def test_calls_through_the_gateway_are_judged_and_the_scores_stored(
    gateway: str, upstream: ServerThread, warehouse: str, producer: EventProducer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Platform calls of this tenant stored before this test (another module's offline runs share the tenant).
    earlier = {c["call_id"] for c in await platform_calls(warehouse)}
    admin = httpx.AsyncClient(base_url=gateway, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)
    async with admin:
        for name, version in {"grader": RUBRIC, "pairwise-grader": PAIRWISE_RUBRIC}.items():
            created = await admin.post(f"/v1/prompts/{name}/versions", json=version)
            assert created.status_code == 201, created.text
        shadow = {
            "experiment_id": f"shadow-{TENANT}",
            "name": "app-b in the shadow of app-a",
            "app": APP,
            "kind": "shadow",
            "control": "live",
            "variants": [
                {"name": "live", "weight": 0.01, "model": "app-model"},
                {"name": "copy", "weight": 0.99, "model": "app-model-b"},
            ],
        }
        assert (await admin.post("/v1/experiments", json=shadow)).status_code == 201

        (tmp_path / "keys.yaml").write_text(keys_yaml(ADMIN_RECORD))
        settings = EvaluationSettings(
            kafka_bootstrap_servers=kafka_bootstrap,
            api_keys_file=tmp_path / "keys.yaml",
            consumer_group=f"evaluation-it-{uuid.uuid4().hex[:12]}",
            model_consumer_group=f"evaluation-models-it-{uuid.uuid4().hex[:12]}",
            batch_wait_ms=100,
            model_batch_wait_ms=100,
            gateway_url=gateway,
            warehouse_url=warehouse,
            service_key=SERVICE,
        )
        async with served(settings) as evaluation:
            evaluation.headers["Authorization"] = f"Bearer {ADMIN}"
            bad_route = evaluator("llm_judge", model="gpt-9", prompt={"name": "grader", "label": "production"})
            refused = await evaluation.put("/v1/evaluators/typo", json=bad_route)
            assert refused.status_code == 422 and "the gateway has no model 'gpt-9'" in refused.json()["detail"]
            bad_rubric = evaluator("llm_judge", model="judge", prompt={"name": "no-such-rubric", "version": 1})
            refused = await evaluation.put("/v1/evaluators/typo", json=bad_rubric)
            assert refused.status_code == 422 and "'no-such-rubric' has no version 1" in refused.json()["detail"]
            for name, body in {
                "helpful": evaluator(
                    "llm_judge",
                    model="judge",
                    prompt={"name": "grader", "label": "production"},
                    pass_threshold=3,
                    timeout_s=3,
                ),
                "vs-shadow": evaluator(
                    "llm_judge_pairwise",
                    model="judge",
                    prompt={"name": "pairwise-grader", "version": 1},
                    primary_wait_s=30,
                ),
                "short": evaluator("length", max_chars=200),
            }.items():
                response = await evaluation.put(f"/v1/evaluators/{name}", json=body)
                assert response.status_code == 201, response.text

            # An application's call through the gateway (a shadow copy goes to app-b beside it).
            chat = {
                "model": "app-model",
                "messages": [
                    {"role": "system", "content": "Parcels wait at the depot until noon."},
                    {"role": "user", "content": "Where is my parcel?"},
                ],
                "user": "u-1",
            }
            answered = await admin.post("/v1/chat/completions", json=chat, headers={"X-LLMOps-App": APP})
            assert answered.status_code == 200, answered.text
            primary = answered.json()["id"]
            # Two calls recorded by the application itself: one the judge answers without a score, one it hangs on.
            now = datetime.now(UTC) - timedelta(minutes=1)
            garbage = call(TENANT, call_id=f"garbage-{uuid.uuid4().hex[:8]}", app=APP, output="GARBAGE", started_at=now)
            hang = call(TENANT, call_id=f"hang-{uuid.uuid4().hex[:8]}", app=APP, output="HANG", started_at=now)
            await producer.publish_many([garbage, hang])

            async def judged(call_id: str, names: set[str]) -> bool:
                return names <= {
                    i["evaluator"]["name"] for row in await scores(warehouse, call_id) for i in row["scores"]
                }

            await wait_until(
                lambda: judged(primary, {"helpful", "vs-shadow", "short"}), "the call judged", timeout_s=120
            )
            await wait_until(lambda: judged(garbage.data.call_id, {"helpful", "short"}), "the garbage call judged", 120)
            await wait_until(
                lambda: judged(hang.data.call_id, {"helpful", "short"}), "the hanging judge timed out", 120
            )

    rows = await scores(warehouse, primary)
    [(_, helpful)] = items_of(rows, "helpful")
    assert (helpful["outcome"], helpful["score"], helpful["passed"], helpful["metric"]) == ("scored", 4, True, "judge")
    assert helpful["evaluator"] | {"version": "-"} == {
        "name": "helpful",
        "version": "-",
        "kind": "llm_judge",
        "judge_model": "judge",
        "judge_prompt": "grader",
        "judge_prompt_version": 1,
    }
    assert helpful["latency_ms"] > 0 and helpful.get("cost_usd") is None
    [(pair_row, pair)] = items_of(rows, "vs-shadow")
    assert pair_row["call_id"] == primary and pair_row["compared_call_id"] not in (None, primary)
    assert (pair["outcome"], pair["label"], pair["score"]) == ("scored", "call", 1.0)  # app-a names the depot
    [(_, malformed)] = items_of(await scores(warehouse, garbage.data.call_id), "helpful")
    assert malformed["outcome"] == "malformed" and malformed.get("score") is None
    assert "no score in the judge's answer" in malformed["explanation"]
    hung = await scores(warehouse, hang.data.call_id)
    [(_, timed_out)] = items_of(hung, "helpful")
    assert (timed_out["outcome"], timed_out["explanation"]) == ("timeout", "no answer within its 3s timeout")
    [(_, length)] = items_of(hung, "short")
    assert length["outcome"] == "scored"  # the heuristic pass is not held by the judge

    # The judge's own calls are platform traffic in the warehouse, and none of them was judged.
    platform = [c for c in await platform_calls(warehouse) if c["call_id"] not in earlier]
    assert {c["model"] for c in platform} == {"judge"} and len(platform) >= 4
    assert platform[0]["prompt"]["name"] in {"grader", "pairwise-grader"}
    for judge_call in platform:
        assert await scores(warehouse, judge_call["call_id"]) == []
