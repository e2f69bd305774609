"""Shared infrastructure settings keep their unprefixed names; a service's own settings carry its prefix."""

from __future__ import annotations

from pathlib import Path

import pytest
from llmops_kit.settings import ServiceSettings
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")

    batch_size: int = 100


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "KAFKA_BOOTSTRAP_SERVERS",
        "LLMOPS_API_KEYS_FILE",
        "LOG_LEVEL",
        "EXAMPLE_PORT",
        "EXAMPLE_HOST",
        "EXAMPLE_BATCH_SIZE",
        "EXAMPLE_KAFKA_BOOTSTRAP_SERVERS",
    ):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_defaults_point_at_a_local_broker() -> None:
    settings = ExampleSettings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.api_keys_file is None
    assert settings.log_level == "INFO"
    assert settings.port == 8000
    assert settings.batch_size == 100


def test_shared_names_are_unprefixed_and_own_names_are_prefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-0:9092,kafka-1:9092")
    monkeypatch.setenv("LLMOPS_API_KEYS_FILE", "/etc/llmops/keys.yaml")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("EXAMPLE_PORT", "8123")
    monkeypatch.setenv("EXAMPLE_BATCH_SIZE", "7")
    monkeypatch.setenv("EXAMPLE_KAFKA_BOOTSTRAP_SERVERS", "wrong:1")  # shared settings ignore the prefix

    settings = ExampleSettings()
    assert settings.kafka_bootstrap_servers == "kafka-0:9092,kafka-1:9092"
    assert settings.api_keys_file == Path("/etc/llmops/keys.yaml")
    assert settings.log_level == "DEBUG"
    assert settings.port == 8123
    assert settings.batch_size == 7


def test_fields_can_be_set_by_name_in_code() -> None:
    settings = ExampleSettings(kafka_bootstrap_servers="broker:9092", port=0)
    assert settings.kafka_bootstrap_servers == "broker:9092"
    assert settings.port == 0


def test_out_of_range_port_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        ExampleSettings()
