"""Kafka security settings, the one aiokafka kwargs builder, and the ACLs the catalog implies."""

from __future__ import annotations

import ssl

import pytest
from llmops_kit.kafka.acls import Operation, PatternType, ResourceType, catalog_acls
from llmops_kit.kafka.security import client_kwargs
from llmops_kit.kafka.topics import TopicCatalog
from llmops_kit.settings import KafkaSecurity, ServiceSettings
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name in ("KAFKA_SSL_CAFILE", "KAFKA_SSL_CERTFILE", "KAFKA_SSL_KEYFILE", "KAFKA_SSL_CHECK_HOSTNAME"):
        monkeypatch.delenv(name, raising=False)


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")


def sasl(**overrides: object) -> KafkaSecurity:
    fields: dict[str, object] = {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_username": "ingest",
        "sasl_password": SecretStr("s3cret-password"),
    }
    return KafkaSecurity.model_validate(fields | overrides)


def test_plaintext_by_default_adds_nothing() -> None:
    assert ExampleSettings().kafka_security.security_protocol == "PLAINTEXT"
    assert client_kwargs(ExampleSettings().kafka_security) == {}
    assert client_kwargs(None) == {}


def test_no_settings_means_the_environment_s_not_plaintext(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "evaluation")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret-password")
    assert client_kwargs(None)["sasl_plain_username"] == "evaluation"


def test_a_service_reads_the_unprefixed_kafka_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "ingest")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret-password")
    security = ExampleSettings().kafka_security
    assert client_kwargs(security) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "ingest",
        "sasl_plain_password": "s3cret-password",
    }


def test_the_password_never_shows_in_repr_or_dumps() -> None:
    settings = ExampleSettings(kafka_security=sasl())
    assert "s3cret-password" not in repr(settings)
    assert "s3cret-password" not in str(settings.model_dump())
    assert "s3cret-password" not in settings.model_dump_json()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sasl_password": None}, "KAFKA_SASL_PASSWORD"),
        ({"sasl_username": None}, "KAFKA_SASL_USERNAME"),
        ({"sasl_mechanism": "PLAIN"}, "clear text"),
        ({"sasl_mechanism": "GSSAPI"}, "SCRAM-SHA-512"),
        ({"security_protocol": "SSL", "ssl_certfile": "/tmp/client.pem"}, "go together"),
        ({"security_protocol": "TLS"}, "SASL_SSL"),
    ],
)
def test_incomplete_or_unsafe_settings_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        sasl(**overrides)


def test_tls_builds_a_verifying_context() -> None:
    kwargs = client_kwargs(sasl(security_protocol="SASL_SSL"))
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert "sasl_plain_username" in kwargs


def test_tls_without_sasl_has_no_sasl_arguments() -> None:
    kwargs = client_kwargs(KafkaSecurity(security_protocol="SSL", ssl_check_hostname=False))
    assert set(kwargs) == {"security_protocol", "ssl_context"}
    assert not kwargs["ssl_context"].check_hostname


CATALOG = TopicCatalog.parse_yaml(
    """
version: 1
topics:
  - {name: llmops.calls.recorded, partitions: 1, retention: 7d, cleanup_policy: delete, key: tenant_id,
     dlq: true, description: calls, producers: [ingest], consumers: [warehouse]}
  - {name: llmops.prompts.versions, partitions: 1, cleanup_policy: compact, key: prompt,
     dlq: false, description: prompts, producers: [inference], consumers: [inference]}
"""
)


def test_producers_write_and_consumers_read_their_topics_and_write_the_dlq() -> None:
    acls = {str(b) for b in catalog_acls(CATALOG)}
    assert acls == {
        "User:ingest WRITE topic:llmops.calls.recorded",
        "User:ingest DESCRIBE topic:llmops.calls.recorded",
        "User:ingest IDEMPOTENT_WRITE cluster:kafka-cluster",
        "User:warehouse READ topic:llmops.calls.recorded",
        "User:warehouse DESCRIBE topic:llmops.calls.recorded",
        "User:warehouse WRITE topic:llmops.calls.recorded.dlq",
        "User:warehouse DESCRIBE topic:llmops.calls.recorded.dlq",
        "User:warehouse READ group:warehouse",
        "User:warehouse READ group:warehouse-*",
        "User:warehouse IDEMPOTENT_WRITE cluster:kafka-cluster",
        "User:inference WRITE topic:llmops.prompts.versions",
        "User:inference DESCRIBE topic:llmops.prompts.versions",
        "User:inference READ topic:llmops.prompts.versions",
        "User:inference READ group:inference",
        "User:inference READ group:inference-*",
        "User:inference IDEMPOTENT_WRITE cluster:kafka-cluster",
    }


def test_in_the_real_catalog_only_producers_write_a_topic() -> None:
    catalog = TopicCatalog.load()
    writes = [b for b in catalog_acls(catalog) if b.operation is Operation.WRITE]
    for binding in writes:
        name = binding.resource_name.removesuffix(".dlq")
        spec = catalog.get(name)
        service = binding.principal.removeprefix("User:")
        owners = spec.producers if name == binding.resource_name else spec.consumers
        assert service in owners, binding
    assert all(b.pattern is PatternType.LITERAL for b in writes)


def test_groups_are_granted_by_name_or_dashed_prefix_and_nothing_else_is() -> None:
    for binding in catalog_acls(TopicCatalog.load()):
        service = binding.principal.removeprefix("User:")
        if binding.resource_type is not ResourceType.GROUP:
            assert binding.pattern is not PatternType.PREFIXED, binding
            continue
        assert binding.operation is Operation.READ
        assert (binding.resource_name, binding.pattern) in {
            (service, PatternType.LITERAL),
            (f"{service}-", PatternType.PREFIXED),
        }, binding
