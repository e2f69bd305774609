"""The bodies each kind of notifier receives, built from one alert change (pure functions, no I/O).

* PagerDuty Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/): ``firing`` is a
  ``trigger``, ``acknowledged`` an ``acknowledge``, ``resolved`` a ``resolve``, all under ``dedup_key`` = the
  alert id, so the three thread into one PagerDuty alert and a redelivery is deduplicated by PagerDuty.
* Slack-compatible incoming webhooks (https://api.slack.com/messaging/webhooks): ``text`` plus section blocks;
  a group's batch (:func:`slack_group_body`) is one message with a section per change.
* Generic webhooks: the alert change as JSON, signed (:func:`sign`) with the notifier's secret and a timestamp.

The JSON Schemas of the first two, transcribed from those pages, are committed beside this module
(``schemas/``); the tests validate what local receivers get against them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from llmops_schemas.v2 import AlertStateChanged

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "pagerduty_body",
    "sign",
    "slack_body",
    "slack_group_body",
    "webhook_body",
]

SIGNATURE_HEADER = "X-LLMOps-Signature"
TIMESTAMP_HEADER = "X-LLMOps-Timestamp"
ACTIONS = {"firing": "trigger", "acknowledged": "acknowledge", "resolved": "resolve"}
PD_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}
ICONS = {"firing": ":rotating_light:", "acknowledged": ":eyes:", "resolved": ":white_check_mark:"}
SOURCE = "llmops-alerting"
MAX_SLACK_GROUP = 50
"""Slack takes at most 50 blocks: a group message holds at most 49 changes and its context block."""


def _details(tenant: str, alert: AlertStateChanged) -> dict[str, Any]:
    details: dict[str, Any] = {
        "tenant": tenant,
        "rule": alert.rule,
        "rule_id": alert.rule_id,
        "status": alert.status,
        "value": alert.value,
        "labels": dict(alert.labels),
        "starts_at": alert.starts_at.isoformat(),
        "source_event_id": alert.source_event_id,
    }
    if alert.description:
        details["description"] = alert.description
    if alert.acknowledged_by:
        details["acknowledged_by"] = alert.acknowledged_by
    return {k: v for k, v in details.items() if v is not None}


def pagerduty_body(tenant: str, alert: AlertStateChanged, routing_key: str) -> dict[str, Any]:
    """An Events API v2 alert event; ``payload`` goes with every action (required for trigger only)."""
    payload: dict[str, Any] = {
        "summary": alert.summary[:1024],
        "source": SOURCE,
        "severity": PD_SEVERITY[alert.severity],
        "timestamp": (alert.ends_at or alert.acknowledged_at or alert.starts_at).isoformat(),
        "component": alert.labels.get("app", tenant),
        "class": alert.rule_id or alert.rule,
        "custom_details": _details(tenant, alert),
    }
    if alert.group_key:
        payload["group"] = alert.group_key
    return {
        "routing_key": routing_key,
        "event_action": ACTIONS[alert.status],
        "dedup_key": alert.alert_id,
        "payload": payload,
        "client": "LLMOps alerting",
    }


def _slack_section(alert: AlertStateChanged) -> dict[str, Any]:
    head = f"{ICONS[alert.status]} *[{alert.status.upper()}] {alert.severity}*: {alert.summary}"[:3000]
    fields = [{"type": "mrkdwn", "text": f"*{k}*\n{v}"[:3000]} for k, v in sorted(alert.labels.items())][:10]
    section: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": head}}
    if fields:
        section["fields"] = fields
    return section


def _slack_context(tenant: str, alert: AlertStateChanged) -> dict[str, Any]:
    where = f"rule `{alert.rule_id or alert.rule}` · tenant `{tenant}`"
    if alert.group_key:
        where += f" · group `{alert.group_key}`"
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": where[:3000]}]}


def slack_body(tenant: str, alert: AlertStateChanged) -> dict[str, Any]:
    """A message with a fallback ``text`` and section/context blocks (labels as fields)."""
    text = f"[{alert.status.upper()}] {alert.summary}"
    return {"text": text, "blocks": [_slack_section(alert), _slack_context(tenant, alert)]}


def slack_group_body(tenant: str, alerts: Sequence[AlertStateChanged]) -> dict[str, Any]:
    """One message for a group's batch (Alertmanager's grouping): a section per change, oldest first, then the
    rule and group; ``text`` counts the changes by status. At most 49 changes (Slack's 50 blocks)."""
    if not 0 < len(alerts) < MAX_SLACK_GROUP:
        raise ValueError(f"a Slack message holds 1 to {MAX_SLACK_GROUP - 1} changes, not {len(alerts)}")
    counts = Counter(a.status for a in alerts)
    tally = ", ".join(f"{status.upper()}:{n}" for status, n in sorted(counts.items()))
    text = f"[{tally}] {alerts[0].rule}" + (f" ({alerts[0].group_key})" if alerts[0].group_key else "")
    return {"text": text[:40000], "blocks": [*(_slack_section(a) for a in alerts), _slack_context(tenant, alerts[0])]}


def webhook_body(tenant: str, alert: AlertStateChanged, notification_id: str) -> bytes:
    """The body of a generic webhook: the change as the stored event carries it, with its id."""
    body = {"id": notification_id, "tenant_id": tenant, "alert": alert.model_dump(mode="json", exclude_none=True)}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """``v1=`` and hex HMAC-SHA256 of ``<timestamp>.<body>``: the timestamp is signed, so a replay of an old
    request is refused by a receiver that bounds its age."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()
