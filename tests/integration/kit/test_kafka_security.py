"""Topics are the trust boundary: a broker with SASL/SCRAM and ACLs from the catalog lets each service
write only what it owns.

The test starts its own broker (SASL_PLAINTEXT, SCRAM-SHA-512, StandardAuthorizer, a super user), stores
per-service credentials and the catalog's ACLs through the kit, then uses the kit's own clients with each
service's credentials.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAuthorizationFailedError
from llmops_cli.main import app
from llmops_kit.infra.kafka_broker import LocalKafkaBroker
from llmops_kit.kafka.acls import apply_acls, catalog_acls
from llmops_kit.kafka.consumer import ConsumedMessage, ConsumerLoop, Delivery, RetryPolicy
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.scram import upsert_scram_users
from llmops_kit.kafka.security import client_kwargs
from llmops_kit.kafka.topics import TopicCatalog, dlq_topic, ensure_topics
from llmops_kit.settings import KafkaSecurity
from pydantic import SecretStr
from typer.testing import CliRunner

from tests.fixtures.kafka import run_sync

pytestmark = pytest.mark.integration

CALLS = "llmops.calls.recorded"
ALERTS = "llmops.alerts"
SERVICES = ("ingest", "warehouse")
WAIT_S = 30.0


class SecureCluster:
    """A SASL broker with the catalog's topics, its ACLs, and a SCRAM credential per service."""

    def __init__(self, broker: LocalKafkaBroker, passwords: dict[str, SecretStr]) -> None:
        self.broker = broker
        self.passwords = passwords

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap_servers

    def security(self, service: str, password: SecretStr | None = None) -> KafkaSecurity:
        return KafkaSecurity(
            security_protocol="SASL_PLAINTEXT",
            sasl_username=service,
            sasl_password=password or self.passwords[service],
        )


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaBroker]:
    broker = LocalKafkaBroker(tmp_path_factory.mktemp("kafka-sasl"), admin_password=SecretStr(secrets.token_hex(16)))
    with broker:
        yield broker


@pytest.fixture(scope="module")
def cluster(sasl_broker: LocalKafkaBroker) -> SecureCluster:
    """The admin creates the topics, one SCRAM credential per service and the catalog's ACLs."""
    admin, servers = sasl_broker.admin_security, sasl_broker.bootstrap_servers
    catalog = TopicCatalog.load()
    passwords = {service: SecretStr(secrets.token_hex(16)) for service in SERVICES}
    run_sync(ensure_topics(servers, catalog, [CALLS, ALERTS], security=admin))
    run_sync(upsert_scram_users(servers, passwords, security=admin))
    run_sync(apply_acls(servers, catalog_acls(catalog), security=admin))
    return SecureCluster(sasl_broker, passwords)


@pytest.fixture
async def producers(cluster: SecureCluster) -> AsyncIterator[dict[str, EventProducer]]:
    started = {
        service: EventProducer(cluster.bootstrap, service=service, security=cluster.security(service))
        for service in SERVICES
    }
    for producer in started.values():
        await asyncio.wait_for(producer.start(), WAIT_S)
    yield started
    for producer in started.values():
        await producer.stop()


async def test_a_client_without_credentials_is_refused(cluster: SecureCluster) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap, request_timeout_ms=5_000)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(producer.start(), WAIT_S)
    await producer.stop()


async def test_a_wrong_password_is_refused(cluster: SecureCluster) -> None:
    wrong = cluster.security("ingest", SecretStr("not-the-password"))
    producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap, request_timeout_ms=5_000, **client_kwargs(wrong))
    with pytest.raises(KafkaError):
        await asyncio.wait_for(producer.start(), WAIT_S)
    await producer.stop()


@pytest.mark.parametrize(("service", "topic"), [("ingest", ALERTS), ("warehouse", CALLS)])
async def test_a_service_cannot_write_a_topic_it_does_not_own(
    producers: dict[str, EventProducer], service: str, topic: str
) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await asyncio.wait_for(producers[service].send_many([(topic, b"tenant-a", b"{}", ())]), WAIT_S)


async def test_ingest_publishes_and_the_warehouse_consumes_and_dead_letters(
    cluster: SecureCluster, producers: dict[str, EventProducer]
) -> None:
    marker = uuid.uuid4().hex
    good, bad = json.dumps({"marker": marker}).encode(), b"not json " + marker.encode()
    await producers["ingest"].send_many([(CALLS, b"tenant-a", good, ()), (CALLS, b"tenant-a", bad, ())])

    seen: list[Any] = []
    arrived = asyncio.Event()

    async def handle(batch: Sequence[Delivery[Any]]) -> None:
        seen.extend(d.item for d in batch if d.item.get("marker") == marker)
        if seen:
            arrived.set()

    loop: ConsumerLoop[Any] = ConsumerLoop(
        bootstrap_servers=cluster.bootstrap,
        group_id=f"warehouse-test-{marker[:8]}",
        topics=[CALLS],
        decode=_decode_json,
        handle=handle,
        dead_letters=producers["warehouse"],
        service="warehouse",
        retry=RetryPolicy(attempts=2, initial_s=0.01, max_s=0.05, transient_pause_s=0.1),
        security=cluster.security("warehouse"),
    )
    await asyncio.wait_for(loop.start(), WAIT_S)
    try:
        await asyncio.wait_for(arrived.wait(), WAIT_S)
        assert await asyncio.wait_for(_dead_letter_with(cluster, marker), WAIT_S)
    finally:
        await loop.stop()
    assert seen == [{"marker": marker}]


def _decode_json(message: ConsumedMessage) -> Any:
    return json.loads(message.value)


async def _dead_letter_with(cluster: SecureCluster, marker: str) -> bytes:
    """The first record on the calls DLQ that carries ``marker`` (read by the admin: no service reads DLQs)."""
    consumer = AIOKafkaConsumer(
        dlq_topic(CALLS),
        bootstrap_servers=cluster.bootstrap,
        auto_offset_reset="earliest",
        **client_kwargs(cluster.broker.admin_security),
    )
    await consumer.start()
    try:
        async for record in consumer:
            if record.value and marker.encode() in record.value:
                return bytes(record.value)
    finally:
        await consumer.stop()
    raise AssertionError("the DLQ consumer ended")


def test_the_broker_log_has_no_password(cluster: SecureCluster, sasl_broker: LocalKafkaBroker) -> None:
    log = Path(sasl_broker.log_path).read_text(errors="replace")
    admin = sasl_broker.admin_security
    assert admin is not None and admin.sasl_password is not None
    for password in [*cluster.passwords.values(), admin.sasl_password]:
        assert password.get_secret_value() not in log


def test_the_cli_stores_a_credential_and_applies_the_catalog(cluster: SecureCluster) -> None:
    """`llmops kafka set-password` and `llmops kafka acls --apply`, as an operator runs them (admin env)."""
    admin = cluster.broker.admin_security
    assert admin is not None and admin.sasl_password is not None
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap,
        "KAFKA_SECURITY_PROTOCOL": admin.security_protocol,
        "KAFKA_SASL_USERNAME": admin.sasl_username or "",
        "KAFKA_SASL_PASSWORD": admin.sasl_password.get_secret_value(),
    }
    password = secrets.token_hex(16)
    runner = CliRunner()
    stored = runner.invoke(app, ["kafka", "set-password", "cost", "--password-stdin"], input=password, env=env)
    assert stored.exit_code == 0, stored.output
    applied = runner.invoke(app, ["kafka", "acls", "--apply"], env=env)
    assert applied.exit_code == 0, applied.output
    assert "llmops.costs.recorded" in applied.output  # created: only the fixture's topics existed

    async def publish_as_cost() -> None:
        security = cluster.security("cost", SecretStr(password))
        producer = EventProducer(cluster.bootstrap, service="cost", security=security)
        await asyncio.wait_for(producer.start(), WAIT_S)
        try:
            await asyncio.wait_for(producer.send_many([("llmops.costs.recorded", b"t", b"{}", ())]), WAIT_S)
        finally:
            await producer.stop()

    run_sync(publish_as_cost())
    assert password not in stored.output + applied.output


async def test_a_service_ensures_its_topics_without_the_right_to_create_them(cluster: SecureCluster) -> None:
    """Ingest names the calls topic at start: its DLQ belongs to the consumers, invisible to ingest's principal."""
    assert (
        await ensure_topics(cluster.bootstrap, TopicCatalog.load(), [CALLS], security=cluster.security("ingest")) == []
    )
