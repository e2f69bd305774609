"""The alerting API on the real app: configuration writes, their refusals, alerts and acknowledgements."""

from __future__ import annotations

import httpx
from llmops_alerting.bootstrap import AlertingPorts
from llmops_alerting.engine import Observation
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v1 import NotifierConfigured
from llmops_schemas.v2 import AlertRuleConfigured, AlertStateChanged, AuditRecorded, NotificationQueued

from tests.unit.alerting.support import NOW, auth, metric_rule

PD = {"kind": "pagerduty", "url": "https://events.pagerduty.com/v2/enqueue", "secret_ref": "pd"}


async def test_a_rule_is_stored_with_its_audit_entry(client: httpx.AsyncClient, publisher: InMemoryPublisher) -> None:
    created = await client.put("/v1/rules/err", json=metric_rule(), headers=auth("admin"))
    assert created.status_code == 201, created.text
    assert created.json()["rule_id"] == "err" and created.json()["updated_by"] == "admin-key"
    assert [r.rule_id for r in publisher.of(AlertRuleConfigured)] == ["err"]
    assert publisher.of(AuditRecorded)[0].action == "alerting.rule.create"
    assert (await client.put("/v1/rules/err", json=metric_rule(), headers=auth("admin"))).status_code == 200
    listed = await client.get("/v1/rules", headers=auth("reader"))
    assert [r["rule_id"] for r in listed.json()["items"]] == ["err"]
    assert (await client.get("/v1/rules", headers=auth("other"))).json()["items"] == []


async def test_a_rule_naming_an_unknown_metric_is_refused_at_creation(client: httpx.AsyncClient) -> None:
    answer = await client.put("/v1/rules/x", json=metric_rule(metric="error_rat"), headers=auth("admin"))
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "unknown metric 'error_rat'; known: calls, error_rate" in answer.json()["detail"]


async def test_bad_rules_are_refused_with_the_reason(client: httpx.AsyncClient) -> None:
    cases = {
        "needs metric and threshold": metric_rule(threshold=None),
        "unknown notifiers: nobody": metric_rule(notifiers=["nobody"]),
        "cannot group by ['user']": metric_rule(group_by=["user"]),
        "Extra inputs are not permitted": metric_rule(colour="red"),
    }
    for message, body in cases.items():
        answer = await client.put("/v1/rules/x", json=body, headers=auth("admin"))
        assert answer.status_code == 422 and message in answer.text, (message, answer.text)


async def test_notifiers_need_an_admin_and_a_configured_secret(
    client: httpx.AsyncClient, publisher: InMemoryPublisher
) -> None:
    assert (await client.put("/v1/notifiers/pd", json=PD, headers=auth("writer"))).status_code == 403
    unknown = await client.put("/v1/notifiers/pd", json={**PD, "secret_ref": "nope"}, headers=auth("admin"))
    assert unknown.status_code == 422 and "secret_ref 'nope' is not in" in unknown.text
    ftp = await client.put("/v1/notifiers/pd", json={**PD, "url": "ftp://x.example/y"}, headers=auth("admin"))
    assert ftp.status_code == 422
    assert (await client.put("/v1/notifiers/pd", json=PD, headers=auth("admin"))).status_code == 201
    assert publisher.of(NotifierConfigured)[0].secret_ref == "pd"
    assert b"R" * 32 not in b"".join(value for _, value in publisher.records(NotifierConfigured.topic))


async def test_every_sli_is_accepted_and_a_target_of_one_is_refused(client: httpx.AsyncClient) -> None:
    body = {"app": "bot", "sli": "thumbs_up_rate", "threshold": 1, "target": 0.9}
    assert (await client.put("/v1/objectives/o", json=body, headers=auth("admin"))).status_code == 201
    scores = {**body, "sli": "evaluation_score", "threshold": 0.7}
    answer = await client.put("/v1/objectives/s", json=scores, headers=auth("admin"))
    assert answer.status_code == 422 and "metric is set exactly for an evaluation_score objective" in answer.text
    scores["metric"] = "relevance"
    assert (await client.put("/v1/objectives/s", json=scores, headers=auth("admin"))).status_code == 201
    full = await client.put("/v1/objectives/o", json={**body, "target": 1, "sli": "latency"}, headers=auth("admin"))
    assert full.status_code == 422 and "strictly between 0 and 1" in full.text


async def test_an_open_alert_is_listed_and_acknowledged_once(
    client: httpx.AsyncClient, ports: AlertingPorts, publisher: InMemoryPublisher
) -> None:
    await client.put("/v1/notifiers/pd", json=PD, headers=auth("admin"))
    await client.put("/v1/rules/err", json=metric_rule(notifiers=["pd"]), headers=auth("admin"))
    engine = client._transport.app.state.alerting.engine  # type: ignore[attr-defined]
    obs = Observation("acme", "err", "err", "critical", {"app": "support-bot"}, True, NOW, "boom", notifiers=["pd"])
    await engine.observe([obs])
    listed = (await client.get("/v1/alerts", headers=auth("reader"))).json()["items"]
    assert [a["status"] for a in listed] == ["firing"]
    assert (await client.post(f"/v1/alerts/{obs.alert_id}/ack", headers=auth("reader"))).status_code == 403
    acked = await client.post(f"/v1/alerts/{obs.alert_id}/ack", headers=auth("admin"))
    assert acked.json()["status"] == "acknowledged" and acked.json()["acknowledged_by"] == "admin-key"
    await client.post(f"/v1/alerts/{obs.alert_id}/ack", headers=auth("admin"))
    assert [a.status for a in publisher.of(AlertStateChanged)] == ["firing", "acknowledged"]
    assert [n.alert.status for n in publisher.of(NotificationQueued)] == ["firing", "acknowledged"]
    missing = await client.post("/v1/alerts/a-nothing/ack", headers=auth("admin"))
    assert missing.status_code == 404 and "no open alert" in missing.text


async def test_numbers_and_booleans_are_not_coerced(client: httpx.AsyncClient) -> None:
    for change in ({"threshold": "0.05"}, {"enabled": 0}, {"window_s": "300"}, {"threshold": False}):
        answer = await client.put("/v1/rules/x", json=metric_rule(**change), headers=auth("admin"))
        assert answer.status_code == 422, (change, answer.text)


async def test_other_methods_name_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    answer = await client.post("/v1/rules/x", json={}, headers=auth("admin"))
    assert answer.status_code == 405 and answer.headers["allow"] == "DELETE, GET, PUT"
