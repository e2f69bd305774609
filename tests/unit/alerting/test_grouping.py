"""Grouping of notifications (Alertmanager's group_wait and group_interval): the timing with an injectable
clock, and the dispatcher sending a group's batch to a local Slack receiver as one message."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from llmops_alerting.notifiers.grouping import Groups, Timing
from llmops_alerting.notifiers.payloads import slack_group_body
from llmops_schemas.v2 import AlertStateChanged, NotificationQueued

from tests.unit.alerting.receivers import Receiver, schema
from tests.unit.alerting.support import NOW
from tests.unit.alerting.test_delivery import SCHEMAS, notifier, parts  # noqa: F401 - the fixture
from tests.unit.alerting.test_notifiers import FIRING, RESOLVED

TIMING = Timing(wait=timedelta(seconds=30), interval=timedelta(minutes=5))


def change(n: int, at: datetime, alert: AlertStateChanged = FIRING, **update: object) -> tuple[str, NotificationQueued]:
    changed = alert.model_copy(update={"alert_id": f"a-{n}", **update})
    return f"k{n}", NotificationQueued(notification_id=f"n-{n}", notifier_id="slack", alert=changed, queued_at=at)


def keys(batch: object) -> list[str]:
    return [key for key, _ in batch.items]  # type: ignore[attr-defined]


def test_a_new_group_waits_group_wait_and_takes_the_changes_that_join_it() -> None:
    groups = Groups(max_batch=20)
    owed = [change(1, NOW)]
    assert groups.plan(owed, NOW + timedelta(seconds=10), TIMING) == (None, NOW + timedelta(seconds=30))
    owed.append(change(2, NOW + timedelta(seconds=20)))  # joins the group before its first notification
    owed.append(change(3, NOW + timedelta(seconds=20), group_key="app=other"))  # another group: its own wait
    batch, _ = groups.plan(owed, NOW + timedelta(seconds=30), TIMING)
    assert batch is not None and keys(batch) == ["k1", "k2"]
    groups.notified(batch, NOW + timedelta(seconds=30))
    rest = [o for o in owed if o[0] == "k3"]
    assert groups.plan(rest, NOW + timedelta(seconds=30), TIMING) == (None, NOW + timedelta(seconds=50))


def test_later_changes_of_a_notified_group_wait_group_interval_and_go_out_together() -> None:
    groups = Groups(max_batch=20)
    first, _ = groups.plan([change(1, NOW)], NOW + timedelta(seconds=30), TIMING)
    assert first is not None
    groups.notified(first, NOW + timedelta(seconds=30))
    later = [change(2, NOW + timedelta(minutes=1)), change(1, NOW + timedelta(minutes=2), RESOLVED)]
    assert groups.plan(later, NOW + timedelta(minutes=3), TIMING) == (None, NOW + timedelta(minutes=5, seconds=30))
    batch, _ = groups.plan(later, NOW + timedelta(minutes=5, seconds=30), TIMING)
    assert batch is not None and keys(batch) == ["k2", "k1"]  # oldest first: the resolve after the firing
    groups.notified(batch, NOW + timedelta(minutes=5, seconds=30))
    idle = NOW + timedelta(hours=1)  # not notified for longer than group_interval: starts over
    assert groups.plan([change(4, idle)], idle, TIMING) == (None, idle + timedelta(seconds=30))


def test_a_batch_is_bounded_and_the_rest_follows_at_once() -> None:
    groups = Groups(max_batch=2)
    owed = [change(n, NOW + timedelta(seconds=n)) for n in range(5)]
    at = NOW + timedelta(seconds=40)
    sent: list[list[str]] = []
    while owed:
        batch, _ = groups.plan(owed, at, TIMING)
        assert batch is not None
        sent.append(keys(batch))
        groups.notified(batch, at)
        owed = [o for o in owed if o[0] not in keys(batch)]
    assert sent == [["k0", "k1"], ["k2", "k3"], ["k4"]]


def test_without_timing_every_change_goes_out_at_once() -> None:
    groups = Groups(max_batch=20)
    batch, _ = groups.plan([change(1, NOW)], NOW, Timing())
    assert batch is not None
    groups.notified(batch, NOW)
    again, _ = groups.plan([change(2, NOW)], NOW, Timing())
    assert again is not None and keys(again) == ["k2"]


def test_a_group_message_is_a_valid_slack_message_and_says_what_changed() -> None:
    body = slack_group_body("acme", [FIRING, FIRING.model_copy(update={"alert_id": "a-2"}), RESOLVED])
    jsonschema.validate(body, schema("slack-incoming-webhook.schema.json"))
    assert body["text"].startswith("[FIRING:2, RESOLVED:1] error rate (app=bot)") and len(body["blocks"]) == 4
    with pytest.raises(ValueError, match="1 to 49"):
        slack_group_body("acme", [FIRING] * 50)


async def test_the_dispatcher_sends_a_groups_changes_to_slack_in_one_message(parts: tuple) -> None:  # noqa: F811
    config, outbox, closed, dispatcher = parts
    dispatcher._timing_default = Timing(wait=timedelta(seconds=0.5), interval=timedelta(seconds=1))
    async with Receiver(schema_name=SCHEMAS["slack"]).running() as receiver:
        notifier(config, "slack", "slack", receiver.url)
        await dispatcher.start()
        started, now = time.monotonic(), datetime.now(UTC)
        for _key, item in (change(1, now), change(2, now + timedelta(milliseconds=100))):
            outbox.add("acme", item)
        [first] = await receiver.wait_for(1)
        waited = time.monotonic() - started
        outbox.add("acme", change(3, datetime.now(UTC), RESOLVED, alert_id="a-1")[1])
        got = await receiver.wait_for(2)
        interval = time.monotonic() - started - waited
        await asyncio.wait_for(_closed(closed, 3), 5)
    assert waited >= 0.5 and len(first.json()["blocks"]) == 3  # two changes and the context: one message
    assert interval >= 0.9 and got[1].json()["text"].startswith("[RESOLVED")
    assert not receiver.invalid


async def _closed(closed: object, count: int) -> None:
    while len(closed.keys) < count:  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)


async def test_a_groups_message_is_retried_whole_on_500_and_429_and_sent_once(parts: tuple) -> None:  # noqa: F811
    config, outbox, closed, dispatcher = parts
    dispatcher._timing_default = Timing(wait=timedelta(seconds=0.2), interval=timedelta(seconds=1))
    async with Receiver(script=[500, 429, 202], schema_name=SCHEMAS["slack"]).running() as receiver:
        notifier(config, "slack", "slack", receiver.url)
        await dispatcher.start()
        now = datetime.now(UTC)
        for _key, item in (change(1, now), change(2, now)):
            outbox.add("acme", item)
        [got] = await receiver.wait_for(1)
        await asyncio.wait_for(_closed(closed, 2), 5)
    assert receiver.attempts == 3 and got.json()["text"].startswith("[FIRING:2]")
    assert not outbox.pending
