"""Judge drift end to end on the session broker and chDB: real evaluation runs through the real gateway, the judge
a deterministic upstream, the reports stored by the real warehouse.

The evaluation service runs in process (its API over ``httpx.ASGITransport``, its stores on the broker); the judge-
drift scheduler reaches it with the platform's service key. A monitor's first run becomes its baseline; a second
run with the same judge gives no drift; then the judge turns stricter (every answer 2/5 instead of 4/5) and the
third run is flagged. The three reports reach the warehouse, read back through its query API.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from llmops_drift_detection.judges import JudgeScheduler, JudgeSettings, MonitorRegistry, MonitorSpec, MonitorStore
from llmops_evaluation.bootstrap import create_app
from llmops_evaluation.config import EvaluationSettings
from llmops_kit.audit import Actor
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.platform_client import EvaluationClient, PlatformClient

from tests.integration.evaluation import judge_upstream
from tests.integration.evaluation.test_judge_scoring import (
    ADMIN,
    ADMIN_RECORD,
    SERVICE,
    SERVICE_RECORD,
    TENANT,
    gateway,
    keys_yaml,
    producer,
    upstream,
    warehouse,
)
from tests.integration.warehouse.conftest import chdb_client, warehouse_database
from tests.integration.warehouse.test_warehouse_consumer import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]
__all__ = ["chdb_client", "gateway", "producer", "upstream", "warehouse", "warehouse_database"]  # fixtures, by name

RUBRIC = {
    "template": [
        {"role": "system", "content": "You grade answers from 1 to 5. Reply 'Score: n/5' and a reason."},
        {"role": "user", "content": "<question>{{ question }}</question>\n<answer>{{ answer }}</answer>"},
    ],
    "variables": [{"name": "question"}, {"name": "context", "default": ""}, {"name": "answer"}],
}
ANCHORS = [{"id": f"anchor-{n:02d}", "input": f"Where is parcel {n}?"} for n in range(10)]
JUDGE = {"name": "helpful", "kind": "llm_judge",
         "params": {"model": "judge", "prompt": {"name": "anchor-grader", "version": 1}, "timeout_s": 30}}  # fmt: skip


@asynccontextmanager
async def evaluation_service(settings: EvaluationSettings) -> AsyncIterator[httpx.ASGITransport]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://evaluation") as probe:

            async def ready() -> bool:
                return (await probe.get("/readyz")).status_code == 200

            await wait_until(ready, "the evaluation service ready", timeout_s=60)
        yield transport


async def stored_reports(warehouse_url: str, ids: set[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def all_there() -> bool:
        async with httpx.AsyncClient(base_url=warehouse_url, headers={"Authorization": f"Bearer {ADMIN}"}) as client:
            page = (await client.get("/v1/events/drift_reports", params={"app": "parcels", "limit": 100})).json()
        found[:] = [row["data"] for row in page.get("items", []) if row["data"]["report_id"] in ids]
        return len(found) == len(ids)

    await wait_until(all_there, "the judge-drift reports stored by the warehouse", timeout_s=120)
    return found


async def test_a_stricter_judge_is_flagged_on_the_anchor_set(
    gateway: str, warehouse: str, producer: EventProducer, kafka_bootstrap: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    async with httpx.AsyncClient(base_url=gateway, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30) as admin:
        created = await admin.post("/v1/prompts/anchor-grader/versions", json=RUBRIC)
        assert created.status_code == 201, created.text
    (tmp_path / "keys.yaml").write_text(keys_yaml(ADMIN_RECORD, SERVICE_RECORD))
    settings = EvaluationSettings(
        kafka_bootstrap_servers=kafka_bootstrap, api_keys_file=tmp_path / "keys.yaml",
        consumer_group=f"evaluation-it-{uuid.uuid4().hex[:12]}",
        model_consumer_group=f"evaluation-models-it-{uuid.uuid4().hex[:12]}",
        gateway_url=gateway, warehouse_url=warehouse, service_key=SERVICE,  # type: ignore[arg-type]
    )  # fmt: skip
    dataset = f"anchors-{uuid.uuid4().hex[:8]}"
    async with evaluation_service(settings) as transport:
        async with httpx.AsyncClient(transport=transport, base_url="http://evaluation",
                                     headers={"Authorization": f"Bearer {ADMIN}"}) as evaluation:  # fmt: skip
            body = "\n".join(json.dumps(row) for row in ANCHORS)
            uploaded = await evaluation.post(f"/v1/datasets/{dataset}", content=body,
                                             headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
            assert uploaded.status_code == 201, uploaded.text

        store = MonitorStore()
        store.mark_caught_up()
        registry = MonitorRegistry(store, producer, source="/services/drift-detection", max_per_tenant=5)
        client = EvaluationClient(PlatformClient("evaluation", "http://evaluation", SERVICE, transport=transport))
        scheduler = JudgeScheduler(registry, client, producer, JudgeSettings(poll_s=0.2, run_timeout_s=120),
                                   source="/services/drift-detection")  # fmt: skip
        spec = MonitorSpec.model_validate({"app": "parcels", "dataset": dataset, "dataset_version": 1,
                                           "variant": {"model": "app-model"}, "judge": JUDGE, "min_items": 10,
                                           "min_shift": 0.5})  # fmt: skip
        await registry.put(TENANT, "parcel-judge", spec, Actor(key_id="it-admin"))
        await client.start()
        try:
            baseline = await scheduler.check(TENANT, registry.get(TENANT, "parcel-judge"))
            assert baseline.dataset_drift is None and "baseline" in (baseline.reason or ""), baseline.reason
            same = await scheduler.check(TENANT, registry.get(TENANT, "parcel-judge"))
            assert same.dataset_drift is False, same.reason
            monkeypatch.setattr(judge_upstream, "_verdict", lambda rubric: "Score: 2/5\nReason: stricter now.")
            moved = await scheduler.check(TENANT, registry.get(TENANT, "parcel-judge"))
        finally:
            await scheduler.stop()
            await client.stop()
    assert moved.dataset_drift is True, moved.reason
    assert moved.judge is not None
    [metric] = moved.judge.metrics
    assert (metric.items, metric.baseline_mean, metric.mean, metric.drifted) == (10, 4.0, 2.0, True)
    stored = await stored_reports(warehouse, {baseline.report_id, same.report_id, moved.report_id})
    verdicts = {row["report_id"]: row.get("dataset_drift") for row in stored}
    assert verdicts == {baseline.report_id: None, same.report_id: False, moved.report_id: True}
    assert {row["judge"]["monitor_id"] for row in stored} == {"parcel-judge"}
