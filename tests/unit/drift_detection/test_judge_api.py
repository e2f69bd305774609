"""The judge monitors' HTTP API on the real routes (the registry over an in-memory publisher, no broker)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
from llmops_drift_detection.bootstrap import create_app
from llmops_drift_detection.config import DriftDetectionSettings
from llmops_drift_detection.judges.http import MONITORS, SCHEDULER
from llmops_drift_detection.judges.owners import MonitorOwners
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.ownership import PartitionOwnership

from tests.unit.drift_detection.judge_support import JUDGE, TENANT, Harness
from tests.unit.drift_detection.test_judge_schedule import Owned

ADMIN, VIEWER = "llmops_admin_key_for_judges_0000000000000", "llmops_viewer_key_for_judges_000000000000"
KEYS = ApiKeyStore([
    ApiKeyRecord(id="admin", tenant_id=TENANT, role="admin", sha256=hash_key(ADMIN)),
    ApiKeyRecord(id="viewer", tenant_id=TENANT, role="viewer", sha256=hash_key(VIEWER)),
    ApiKeyRecord(id="other", tenant_id="other", role="admin", sha256=hash_key(ADMIN[::-1])),
])  # fmt: skip
BODY: dict[str, Any] = {"app": "support-bot", "dataset": "anchors", "dataset_version": 1,
                        "variant": {"model": "support-echo"}, "judge": JUDGE, "interval_s": 3600}  # fmt: skip


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, Harness]]:
    harness = Harness(max_monitors=2)
    app = create_app(DriftDetectionSettings(), start=False, api_keys=KEYS)
    await harness.client.start()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://drift") as client,
    ):
        setattr(app.state, MONITORS, harness.registry)
        setattr(app.state, SCHEDULER, harness.scheduler)
        yield client, harness
    await harness.scheduler.stop()
    await harness.client.stop()


def as_(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_create_read_replace_list_and_remove(api: tuple[httpx.AsyncClient, Harness]) -> None:
    client, harness = api
    created = await client.put("/v1/drift/judges/support-judge", json=BODY, headers=as_(ADMIN))
    assert created.status_code == 201, created.text
    assert created.json()["judge"]["name"] == "helpfulness" and created.json()["updated_by"] == "admin"
    replaced = await client.put("/v1/drift/judges/support-judge", json={**BODY, "min_items": 20}, headers=as_(ADMIN))
    assert (replaced.status_code, replaced.json()["min_items"]) == (200, 20)
    listed = await client.get("/v1/drift/judges", headers=as_(VIEWER))
    assert [m["monitor_id"] for m in listed.json()["items"]] == ["support-judge"]
    assert (await client.get("/v1/drift/judges", headers=as_(ADMIN[::-1]))).json()["items"] == []  # another tenant
    assert (await client.get("/v1/drift/judges/support-judge", headers=as_(ADMIN[::-1]))).status_code == 404
    assert (await client.delete("/v1/drift/judges/support-judge", headers=as_(ADMIN))).status_code == 204
    assert (await client.get("/v1/drift/judges/support-judge", headers=as_(VIEWER))).status_code == 404
    actions = [e.data.action for e in harness.publisher.on("llmops.audit.records")]
    assert actions == ["judge_monitor.create", "judge_monitor.update", "judge_monitor.delete"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({**BODY, "interval_s": 10}, "interval_s"),
        ({**BODY, "alpha": 0.7}, "alpha"),
        ({**BODY, "judge": {"name": "x"}}, "kind"),
        ({**BODY, "tenant_id": "other"}, "tenant_id"),
        ({**BODY, "variant": {"prompt_name": "p"}}, "the variant needs a model"),
    ],
)
async def test_bad_bodies_are_a_422_naming_the_field(
    api: tuple[httpx.AsyncClient, Harness], body: dict[str, Any], detail: str
) -> None:
    client, _ = api
    refused = await client.put("/v1/drift/judges/m", json=body, headers=as_(ADMIN))
    assert refused.status_code == 422 and detail in refused.text


async def test_the_tenants_limit_is_a_409_and_a_viewer_may_not_write(api: tuple[httpx.AsyncClient, Harness]) -> None:
    client, _ = api
    for name in ("a", "b"):
        assert (await client.put(f"/v1/drift/judges/{name}", json=BODY, headers=as_(ADMIN))).status_code == 201
    over = await client.put("/v1/drift/judges/c", json=BODY, headers=as_(ADMIN))
    assert over.status_code == 409 and "2 judge monitors" in over.json()["detail"]
    assert (await client.put("/v1/drift/judges/a", json=BODY, headers=as_(VIEWER))).status_code == 403


async def test_check_now_starts_one_check_and_refuses_a_second(api: tuple[httpx.AsyncClient, Harness]) -> None:
    client, harness = api
    harness.fake.hold = True
    harness.scheduler.sleep = lambda seconds: asyncio.Event().wait()  # the run stays under way until stopped
    await client.put("/v1/drift/judges/support-judge", json=BODY, headers=as_(ADMIN))
    first = await client.post("/v1/drift/judges/support-judge/check", headers=as_(ADMIN))
    assert (first.status_code, first.json()) == (202, {"monitor_id": "support-judge", "started": True})
    second = await client.post("/v1/drift/judges/support-judge/check", headers=as_(ADMIN))
    assert second.status_code == 409
    assert (await client.post("/v1/drift/judges/none/check", headers=as_(ADMIN))).status_code == 404
    assert harness.fake.started and len(harness.fake.started) == 1


async def test_check_now_on_a_replica_that_does_not_own_the_monitor_asks_its_owner(
    api: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, harness = api
    harness.scheduler.owners = MonitorOwners(cast(PartitionOwnership, Owned()))  # another replica owns it
    await client.put("/v1/drift/judges/support-judge", json=BODY, headers=as_(ADMIN))

    asked = await client.post("/v1/drift/judges/support-judge/check", headers=as_(ADMIN))

    assert (asked.status_code, asked.json()) == (202, {"monitor_id": "support-judge", "started": False})
    assert harness.fake.started == []  # not here
    assert harness.monitor_state().next_check_at == harness.clock.now  # due now, for the owner
    harness.publisher.failure = ConnectionError("broker down")
    refused = await client.post("/v1/drift/judges/support-judge/check", headers=as_(ADMIN))
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
