"""The alerting service's production wiring on the session broker, with local receivers on loopback.

A drift report on ``llmops.drift.reports`` fires the drift rule: the PagerDuty-format receiver gets a
``trigger`` that validates against the committed Events API v2 schema, the signed webhook (answering 500
first) gets it after a retry; a new service process reads the rule, the notifiers and the open alert back
from the topics, and the next report that says "no drift" resolves the alert under the same ``dedup_key``.
Every change is on ``llmops.alerts``; a record that is no event is dead-lettered with its cause.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from llmops_alerting.bootstrap import create_app
from llmops_alerting.config import AlertingSettings
from llmops_cost.anomalies import Spike, alert_for
from llmops_kit.auth import hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import DriftReported, TimeWindow
from pydantic import SecretStr

from tests.integration.feedback.conftest import SERVICE_KEY
from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.alerting.receivers import Receiver

pytestmark = pytest.mark.integration

ADMIN = "llmops_alerting_it_admin_key_0000000000"
SECRETS = {"pd": "P" * 32, "hook": "it-signing-key"}


def _settings(
    tmp_path: Path, bootstrap: str, tenant: str, group: str, secrets: dict[str, str] = SECRETS
) -> AlertingSettings:
    keys = tmp_path / "keys.yaml"
    keys.write_text(yaml.safe_dump({"keys": [{"id": "it-admin", "tenant_id": tenant, "role": "admin",
                                              "sha256": hash_key(ADMIN)}]}))  # fmt: skip
    return AlertingSettings(
        kafka_bootstrap_servers=bootstrap, api_keys_file=keys, consumer_group=group, batch_wait_ms=20,
        secrets_json=json.dumps(secrets), allowed_networks=["127.0.0.0/8"], notifier_timeout_s=2,
        notifier_max_backoff_s=0.2,
    )  # fmt: skip


@asynccontextmanager
async def _alerting(settings: AlertingSettings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings)
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a", headers=headers) as client,
    ):

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await wait_until(ready, "the alerting service ready (its topics read)")
        yield client


def _drift(tenant: str, drifted: bool, at: datetime) -> CloudEvent[DriftReported]:
    window = TimeWindow(start=at - timedelta(hours=1), end=at)
    baseline = TimeWindow(start=at - timedelta(days=8), end=at - timedelta(days=1))
    data = DriftReported(
        report_id=f"r-{uuid.uuid4().hex[:8]}", app="support-bot", feature="prompt_length", statistic="psi",
        value=0.4 if drifted else 0.01, threshold=0.2, drifted=drifted, window=window, baseline=baseline,
        sample_size=500, baseline_sample_size=5000, computed_at=at,
    )  # fmt: skip
    return CloudEvent.wrap(data, source="/tests/alerting", tenant_id=tenant)


async def _dead_letter(bootstrap: str, key: bytes) -> dict[str, bytes]:
    consumer = AIOKafkaConsumer("llmops.drift.reports.dlq", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while True:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    for record in batch:
                        if record.key == key:
                            return dict(record.headers)
    finally:
        await consumer.stop()


async def test_a_drift_pages_through_the_outbox_and_resolves_after_a_restart(
    kafka_bootstrap: str, producer: EventProducer, tmp_path: Path
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    settings = _settings(tmp_path, kafka_bootstrap, tenant, f"alerting-it-{uuid.uuid4().hex[:8]}")
    pagerduty = Receiver(schema_name="pagerduty-events-v2.schema.json")
    hook = Receiver(script=[500, 200], schema_name="llmops-webhook.schema.json")
    async with pagerduty.running(), hook.running():
        async with _alerting(settings) as api:
            for ident, kind, url, secret in (
                ("pd", "pagerduty", pagerduty.url, "pd"),
                ("hook", "webhook", hook.url, "hook"),
            ):
                body = {"kind": kind, "url": url + "/x", "secret_ref": secret}
                assert (await api.put(f"/v1/notifiers/{ident}", json=body)).status_code == 201
            rule = {"name": "drift", "kind": "drift", "severity": "critical", "notifiers": ["pd", "hook"]}
            assert (await api.put("/v1/rules/drift", json=rule)).status_code == 201
            now = datetime.now(UTC)
            await producer.publish_many([_drift(tenant, True, now), _drift(tenant, True, now)])
            [trigger] = await pagerduty.wait_for(1, timeout_s=60)
            await hook.wait_for(1, timeout_s=60)
            assert hook.attempts == 2  # a 500, then accepted
            open_alerts = (await api.get("/v1/alerts")).json()["items"]
            assert [a["status"] for a in open_alerts] == ["firing"]
        assert trigger.json()["event_action"] == "trigger" and trigger.json()["payload"]["severity"] == "critical"

        async with _alerting(settings) as api:  # a new process: everything read back from the topics
            assert [a["alert_id"] for a in (await api.get("/v1/alerts")).json()["items"]] == [
                trigger.json()["dedup_key"]
            ]
            await producer.publish_many([_drift(tenant, False, datetime.now(UTC))])
            got = await pagerduty.wait_for(2, timeout_s=60)
            assert (await api.get("/v1/alerts")).json()["items"] == []
    assert [g.json()["event_action"] for g in got] == ["trigger", "resolve"]
    assert len({g.json()["dedup_key"] for g in got}) == 1
    assert not pagerduty.invalid and not hook.invalid


async def test_a_record_that_is_no_event_is_dead_lettered_with_its_cause(
    kafka_bootstrap: str, producer: EventProducer, tmp_path: Path
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    settings = _settings(tmp_path, kafka_bootstrap, tenant, f"alerting-it-{uuid.uuid4().hex[:8]}")
    key = f"poison-{uuid.uuid4().hex[:8]}".encode()
    async with _alerting(settings):
        await producer.send_many([("llmops.drift.reports", key, b"{not json", ())])
        headers = await _dead_letter(kafka_bootstrap, key)
    assert any(b"not valid JSON" in value for value in headers.values()), headers


def test_the_llmops_up_demo_pages_and_resolves(kafka_bootstrap: str, warehouse_api: str, tmp_path: Path) -> None:
    """`llmops up`'s alerting step against the service served on a port, as the demo runs it (its objective read
    from the warehouse's API over chDB)."""
    from llmops_cli.alert_demo import run_alert_demo
    from rich.console import Console

    from tests.fixtures.gateway import ServerThread

    tenant = f"t-{uuid.uuid4().hex[:10]}"
    group = f"alerting-it-{uuid.uuid4().hex[:8]}"
    settings = _settings(tmp_path, kafka_bootstrap, tenant, group, {"demo-routing-key": "D" * 32})
    settings = settings.model_copy(
        update={"warehouse_url": warehouse_api, "service_key": SecretStr(SERVICE_KEY), "evaluate_interval_s": 0.5}
    )
    console = Console(record=True, width=300)

    def checked(response: httpx.Response, what: str) -> dict[str, Any]:
        assert response.is_success, f"{what}: {response.text}"
        return dict(response.json())

    with ServerThread(create_app(settings)) as server:
        deadline = time.monotonic() + 60
        while httpx.get(f"{server.url}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the alerting service did not get ready"
            time.sleep(0.1)
        run_alert_demo(server.url, kafka_bootstrap, tenant, "llmops-demo", ADMIN, console, checked)
    shown = console.export_text()
    assert "PagerDuty-format trigger" in shown and "resolve under the same dedup_key (True)" in shown, shown
    assert "100% of 7 days, 100% of the budget left" in shown, shown  # no spend stored: every day within


async def test_cost_spikes_of_the_cost_service_reach_slack_grouped_in_one_message(
    kafka_bootstrap: str, producer: EventProducer, tmp_path: Path
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    secrets = {**SECRETS, "slack-path": "/services/T0/B0/it"}
    settings = _settings(tmp_path, kafka_bootstrap, tenant, f"alerting-it-{uuid.uuid4().hex[:8]}", secrets)
    slack = Receiver(schema_name="slack-incoming-webhook.schema.json")
    async with slack.running(), _alerting(settings) as api:
        body = {"kind": "slack", "url": slack.url, "secret_ref": "slack-path", "group_wait_s": 1}
        assert (await api.put("/v1/notifiers/team", json=body)).status_code == 201
        rule = {"name": "spend spike", "kind": "cost_anomaly", "window_s": 7200, "notifiers": ["team"]}
        assert (await api.put("/v1/rules/spend", json=rule)).status_code == 201
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        spikes = [alert_for(tenant, "app", app, Spike(hour, 4.2, 0.3, 0.05), source="/services/cost")
                  for app in ("support-bot", "search")]  # fmt: skip
        started = time.monotonic()
        await producer.publish_many(spikes)  # as the cost service publishes them (v1, on llmops.alerts)
        [message] = await slack.wait_for(1, timeout_s=60)
        alerts = (await api.get("/v1/alerts")).json()["items"]
    assert time.monotonic() - started >= 1  # the group waited for the second spike
    assert message.json()["text"].startswith("[FIRING:2] spend spike") and len(message.json()["blocks"]) == 3
    assert sorted(a["labels"]["app"] for a in alerts) == ["search", "support-bot"]  # the rule's, not the spikes
    assert {a["rule_id"] for a in alerts} == {"spend"} and not slack.invalid
