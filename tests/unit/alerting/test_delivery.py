"""The outbox's delivery against local receivers: retries on 500, 429 and timeouts, a receiver that never answers
blocks no other notifier, order per notifier, a refused body is not retried, and what is owed survives a restart."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import pytest
from llmops_alerting.notifiers.dispatcher import Dispatcher
from llmops_alerting.notifiers.guard import AddressPolicy, guarded_client
from llmops_alerting.notifiers.payloads import sign
from llmops_alerting.notifiers.sender import Sender
from llmops_alerting.ports import Secrets
from llmops_alerting.state import ConfigStore, Outbox
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import NotifierConfigured
from llmops_schemas.v2 import NotificationQueued

from tests.unit.alerting.receivers import Receiver
from tests.unit.alerting.support import NOW, SECRETS
from tests.unit.alerting.test_notifiers import FIRING, RESOLVED

LOCAL = AddressPolicy([ipaddress.ip_network("127.0.0.0/8")])
SCHEMAS = {
    "pagerduty": "pagerduty-events-v2.schema.json",
    "slack": "slack-incoming-webhook.schema.json",
    "webhook": "llmops-webhook.schema.json",
}
SECRET_OF = {"pagerduty": "pd", "slack": "slack-path", "webhook": "hook"}


class Closed:
    """The fake OutboxCloser: remembers the tombstones."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def close(self, topic: str, keys: Sequence[str]) -> None:
        self.keys.extend(keys)


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


def notifier(config: ConfigStore, ident: str, kind: str, url: str) -> None:
    entity = NotifierConfigured(
        notifier_id=ident, kind=kind, url=url, secret_ref=SECRET_OF[kind], updated_by="k", updated_at=NOW
    )  # type: ignore[arg-type]
    config.apply(CloudEvent.wrap(entity, source="/t", tenant_id="acme"))


def queue(outbox: Outbox, ident: str, alert: object = FIRING, n: int = 0) -> None:
    item = NotificationQueued(
        notification_id=f"n-{n}", notifier_id=ident, alert=alert, queued_at=NOW + timedelta(seconds=n)
    )  # type: ignore[arg-type]
    outbox.add("acme", item)


@pytest.fixture
async def parts() -> AsyncIterator[tuple[ConfigStore, Outbox, Closed, Dispatcher]]:
    config, outbox, closed = ConfigStore(), Outbox(), Closed()
    client = guarded_client(LOCAL, timeout_s=0.3)
    sender = Sender(client, Secrets(SECRETS))
    dispatcher = Dispatcher(outbox, config, sender, closed, max_backoff_s=0.01, sleep=no_wait)
    yield config, outbox, closed, dispatcher
    await dispatcher.stop()
    await client.aclose()


@pytest.mark.parametrize("kind", ["pagerduty", "slack", "webhook"])
async def test_500_429_and_a_timeout_are_retried_until_the_receiver_accepts(kind: str, parts: tuple) -> None:
    config, outbox, closed, dispatcher = parts
    async with Receiver(script=[500, 429, "hang", 202], schema_name=SCHEMAS[kind]).running() as receiver:
        notifier(config, "n", kind, receiver.url + "/hook" if kind != "slack" else receiver.url)
        queue(outbox, "n")
        await dispatcher.start()
        [got] = await receiver.wait_for(1)
        await asyncio.wait_for(_until(lambda: closed.keys == ["acme:n:n-0"]), 5)
    assert receiver.attempts == 4 and not receiver.invalid and not outbox.pending
    if kind == "slack":
        assert got.path == SECRETS["slack-path"]
    if kind == "webhook":
        stamp = got.headers["x-llmops-timestamp"]
        assert got.headers["x-llmops-signature"] == sign(SECRETS["hook"].encode(), int(stamp), got.body)


async def test_a_receiver_that_never_answers_blocks_no_other_notifier(parts: tuple) -> None:
    config, outbox, closed, dispatcher = parts
    async with (
        Receiver(script=["hang"]).running() as dead,
        Receiver(schema_name=SCHEMAS["pagerduty"]).running() as alive,
    ):
        notifier(config, "dead", "webhook", dead.url)
        notifier(config, "alive", "pagerduty", alive.url)
        queue(outbox, "dead", n=0)
        queue(outbox, "alive", n=1)
        queue(outbox, "alive", RESOLVED, n=2)
        await dispatcher.start()
        got = await alive.wait_for(2)
        assert [g.json()["event_action"] for g in got] == ["trigger", "resolve"]
        await asyncio.wait_for(_until(lambda: dead.attempts >= 3), 10)
    assert "acme:dead:n-0" in outbox.pending and "acme:dead:n-0" not in closed.keys


async def test_a_refused_body_is_closed_without_retrying(parts: tuple) -> None:
    config, outbox, closed, dispatcher = parts
    async with Receiver(script=[400]).running() as receiver:
        notifier(config, "n", "webhook", receiver.url)
        queue(outbox, "n")
        await dispatcher.start()
        await asyncio.wait_for(_until(lambda: closed.keys == ["acme:n:n-0"]), 5)
    assert receiver.attempts == 1


async def test_a_notifier_on_a_private_address_is_never_called(parts: tuple) -> None:
    config, outbox, closed, _ = parts
    strict = Dispatcher(
        outbox, config, Sender(guarded_client(AddressPolicy(), 0.3), Secrets(SECRETS)), closed, sleep=no_wait
    )
    async with Receiver().running() as receiver:
        notifier(config, "n", "webhook", f"http://localhost:{receiver.port}/")
        queue(outbox, "n")
        await strict.start()
        await asyncio.wait_for(_until(lambda: closed.keys == ["acme:n:n-0"]), 5)
        await strict.stop()
    assert receiver.attempts == 0


async def test_what_is_owed_at_start_is_delivered(parts: tuple) -> None:
    config, outbox, _, dispatcher = parts
    async with Receiver(schema_name=SCHEMAS["pagerduty"]).running() as receiver:
        notifier(config, "n", "pagerduty", receiver.url)
        queue(outbox, "n", RESOLVED, n=5)  # read back from the outbox topic before the dispatcher starts
        queue(outbox, "n", FIRING, n=1)
        await dispatcher.start()
        got = await receiver.wait_for(2)
    assert [g.json()["event_action"] for g in got] == ["trigger", "resolve"]


async def _until(condition: object) -> None:
    while not condition():  # type: ignore[operator]
        await asyncio.sleep(0.01)
