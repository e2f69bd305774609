"""`llmops keys create --offline`, `llmops demo-calls` and the development keys of `llmops up`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from llmops_cli.platform import ensure_dev_keys
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore
from llmops_schemas.v1 import CallRecorded
from typer.testing import Result

from tests.unit.cli.conftest import FakePlatform

Invoke = Callable[..., Result]


def test_keys_create_prints_the_key_once_and_a_record_with_its_digest(invoke: Invoke, fake: FakePlatform) -> None:
    result = invoke("keys", "create", "--offline", "--tenant", "acme", "--role", "analyst", "--id", "acme-dashboards")

    assert result.exit_code == 0, result.output
    key, _, entry = result.stdout.partition("\n")
    assert key.startswith("llmops_") and len(key) > 40
    assert result.output.count(key) == 1  # stdout and stderr together: shown exactly once
    record = ApiKeyRecord.model_validate(json.loads(entry)["keys"][0])
    assert record == ApiKeyRecord(
        id="acme-dashboards", tenant_id="acme", role="analyst", sha256=hashlib.sha256(key.encode()).hexdigest()
    )
    assert "shown once" in result.stderr
    assert fake.requests == []


def test_a_created_key_authenticates_against_a_keys_file_holding_its_entry(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("keys", "create", "--offline", "--tenant", "demo")
    key, _, entry = result.stdout.partition("\n")
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(entry)  # JSON is YAML: the printed entry is a keys file as it stands

    principal = ApiKeyStore.from_file(keys_file).authenticate(key)

    assert principal is not None
    assert (principal.tenant_id, principal.role) == ("demo", "developer")
    assert principal.key_id.startswith("demo-developer-")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--tenant", "Acme Corp"), "lower-case letters"),
        (("--tenant", "acme", "--role", "root"), "'root' is not one of"),
        (("--tenant", "acme", "--id", "x" * 200), "at most 128 characters"),
    ],
)
def test_keys_create_refuses_bad_input_as_a_usage_error(invoke: Invoke, args: tuple[str, ...], message: str) -> None:
    result = invoke("keys", "create", "--offline", *args)

    assert result.exit_code == 2
    assert message in result.output
    assert "llmops_" not in result.stdout


def test_demo_calls_emits_n_valid_call_recorded_records(invoke: Invoke) -> None:
    result = invoke("demo-calls", "250", "--seed", "11")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 250
    calls = [CallRecorded.model_validate_json(line) for line in lines]
    assert len({c.call_id for c in calls}) == 250
    now = datetime.now(UTC)
    assert all(now - timedelta(minutes=31) <= c.started_at <= now for c in calls)
    assert {c.status for c in calls} == {"ok", "error"}
    assert result.stderr == ""


def test_demo_calls_with_the_same_seed_are_the_same_calls(invoke: Invoke) -> None:
    def ids(seed: str) -> list[str]:
        return [json.loads(line)["call_id"] for line in invoke("demo-calls", "5", "--seed", seed).stdout.splitlines()]

    assert ids("1") == ids("1") != ids("2")


def test_dev_keys_include_the_platform_service_key_and_are_remade_when_a_role_is_new(tmp_path: Path) -> None:
    (tmp_path / "api-keys.yaml").write_text("keys: []\n")
    (tmp_path / "credentials.json").write_text('{"admin": "old"}')  # made before the service role existed
    keys_file, keys = ensure_dev_keys(tmp_path)
    assert keys["admin"] != "old" and {"admin", "writer", "reader", "reviewer", "service"} <= keys.keys()
    service = ApiKeyStore.from_file(keys_file).authenticate(keys["service"])
    assert service is not None and (service.tenant_id, service.role) == ("*", "service")
    assert ensure_dev_keys(tmp_path)[1] == keys  # complete: kept as they are
