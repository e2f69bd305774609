"""Settings and wiring that need no broker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from llmops_ingest.bootstrap import create_app, default_redactor, record_rules
from llmops_ingest.config import IngestSettings
from llmops_pii.policy import PolicyError
from llmops_pii.settings import PiiSettings


def test_settings_read_the_ingest_prefix_and_shared_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_PORT", "9101")
    monkeypatch.setenv("INGEST_MAX_BATCH_RECORDS", "50")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("LLMOPS_API_KEYS_FILE", "/etc/llmops/keys.yaml")
    settings = IngestSettings()
    assert settings.port == 9101
    assert settings.max_batch_records == 50
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.api_keys_file == Path("/etc/llmops/keys.yaml")


def test_defaults_match_the_documented_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INGEST_PORT", "INGEST_MAX_BODY_BYTES", "INGEST_MAX_BATCH_RECORDS", "INGEST_RETENTION_DAYS"):
        monkeypatch.delenv(name, raising=False)
    settings = IngestSettings()
    assert (settings.port, settings.max_body_bytes, settings.max_batch_records) == (8001, 10 * 1024 * 1024, 1000)
    assert settings.source == "/services/ingest"
    assert settings.raw_group == "ingest-raw"
    rules = record_rules(settings)
    assert rules.max_future_skew == timedelta(minutes=5)
    assert rules.retention == timedelta(days=90)
    assert rules.max_record_bytes == 1_000_000


def test_production_redacts_by_default_and_can_be_switched_off() -> None:
    assert type(default_redactor(PiiSettings())).__name__ == "PolicyRedactor"
    assert type(default_redactor(PiiSettings(enabled=False))).__name__ == "NoopRedactor"


def test_a_bad_pii_policy_stops_the_start() -> None:
    with pytest.raises(PolicyError, match="unknown PII types"):
        default_redactor(PiiSettings(policy='{"default": {"emails": "redact"}}'))


async def test_without_a_key_file_requests_answer_503() -> None:
    # Production wiring builds Kafka clients in the lifespan; without the lifespan nothing is wired,
    # and the route answers 503 rather than guessing a tenant.
    app = create_app(IngestSettings(api_keys_file=None, consume_raw=False, ensure_topics=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        response = await client.post("/v1/calls", json={"calls": []}, headers={"X-API-Key": "k"})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
