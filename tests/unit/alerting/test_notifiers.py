"""Notifier payloads against the committed schemas, webhook signatures, and the SSRF guard on real sockets."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import timedelta

import httpx
import jsonschema
import pytest
from llmops_alerting.notifiers.guard import AddressPolicy, BlockedAddress, guarded_client
from llmops_alerting.notifiers.payloads import pagerduty_body, sign, slack_body, webhook_body
from llmops_schemas.v2 import AlertStateChanged

from tests.unit.alerting.receivers import Receiver, schema
from tests.unit.alerting.support import NOW, ROUTING_KEY

FIRING = AlertStateChanged(
    alert_id="a-1",
    rule="error rate",
    rule_id="err",
    severity="critical",
    status="firing",
    summary="error_rate 0.2",
    value=0.2,
    labels={"app": "bot", "model": "m"},
    group_key="app=bot",
    starts_at=NOW,
)
ACKED = FIRING.model_copy(update={"status": "acknowledged", "acknowledged_by": "k", "acknowledged_at": NOW})
RESOLVED = FIRING.model_copy(update={"status": "resolved", "ends_at": NOW + timedelta(minutes=5)})


def test_pagerduty_events_follow_the_alert_under_one_dedup_key() -> None:
    bodies = [pagerduty_body("acme", a, ROUTING_KEY) for a in (FIRING, ACKED, RESOLVED)]
    for body in bodies:
        jsonschema.validate(body, schema("pagerduty-events-v2.schema.json"))
    assert [b["event_action"] for b in bodies] == ["trigger", "acknowledge", "resolve"]
    assert {b["dedup_key"] for b in bodies} == {"a-1"}
    trigger = bodies[0]["payload"]
    assert trigger["severity"] == "critical" and trigger["group"] == "app=bot"
    assert trigger["custom_details"]["labels"] == {"app": "bot", "model": "m"} and trigger["custom_details"]["value"]


def test_the_pagerduty_schema_refuses_what_pagerduty_refuses() -> None:
    body = pagerduty_body("acme", FIRING, "short")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, schema("pagerduty-events-v2.schema.json"))
    trigger = pagerduty_body("acme", FIRING, ROUTING_KEY)
    del trigger["payload"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(trigger, schema("pagerduty-events-v2.schema.json"))


def test_slack_messages_validate_even_with_long_summaries() -> None:
    long = FIRING.model_copy(update={"summary": "x" * 1024, "labels": {f"l{i}": "v" * 300 for i in range(20)}})
    for alert in (FIRING, RESOLVED, long):
        jsonschema.validate(slack_body("acme", alert), schema("slack-incoming-webhook.schema.json"))


def test_a_webhook_signature_covers_the_timestamp() -> None:
    body = webhook_body("acme", FIRING, "n-1")
    jsonschema.validate(__import__("json").loads(body), schema("llmops-webhook.schema.json"))
    signature = sign(b"secret", 1_700_000_000, body)
    expected = hmac.new(b"secret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature == f"v1={expected}"
    assert sign(b"secret", 1_700_000_001, body) != signature


@pytest.mark.parametrize(
    ("address", "permitted"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
    ],
)
def test_the_policy_refuses_non_public_addresses(address: str, permitted: bool) -> None:
    assert AddressPolicy().permits(ipaddress.ip_address(address)) is permitted


async def test_a_host_name_resolving_to_loopback_is_refused_on_the_connected_address() -> None:
    async with Receiver().running() as receiver:
        async with guarded_client(AddressPolicy(), timeout_s=2) as client:
            for host in ("localhost", "127.0.0.1"):
                with pytest.raises(httpx.ConnectError) as caught:
                    await client.post(f"http://{host}:{receiver.port}/hook", json={})
                assert isinstance(caught.value.__context__ or caught.value.__cause__, BlockedAddress) or (
                    "non-public address" in str(caught.value)
                )
        async with guarded_client(AddressPolicy([ipaddress.ip_network("127.0.0.0/8")]), timeout_s=2) as client:
            assert (await client.post(f"http://localhost:{receiver.port}/hook", json={})).status_code == 202
    assert receiver.attempts == 1


async def test_redirects_are_not_followed() -> None:
    local = AddressPolicy([ipaddress.ip_network("127.0.0.0/8")])
    async with Receiver(script=[302]).running() as receiver, guarded_client(local, timeout_s=2) as client:
        assert (await client.post(receiver.url, json={})).status_code == 302
