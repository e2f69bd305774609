"""`llmops up`'s development keys: one per role for the demo tenant, and the platform services' own key."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from llmops_cli.platform import ensure_dev_keys
from llmops_kit.auth import ApiKeyStore


def test_every_role_gets_a_key_and_the_services_one_spans_tenants(tmp_path: Path) -> None:
    keys_file, keys = ensure_dev_keys(tmp_path)
    store = ApiKeyStore.from_file(keys_file)
    demo_reader = store.authenticate(keys["reader"])
    service = store.authenticate(keys["service"])
    assert demo_reader is not None and demo_reader.tenant_id == "demo"
    assert service is not None and service.tenant_id == "*" and service.is_platform
    assert keys["service"] not in keys_file.read_text()  # services see hashes only


def test_keys_are_kept_across_runs_and_an_old_directory_gains_the_service_key(tmp_path: Path) -> None:
    _, first = ensure_dev_keys(tmp_path)
    assert ensure_dev_keys(tmp_path)[1] == first
    old = {role: key for role, key in first.items() if role != "service"}
    (tmp_path / "credentials.json").write_text(json.dumps(old))
    keys_file, renewed = ensure_dev_keys(tmp_path)
    assert "service" in renewed
    roles = {record["role"] for record in yaml.safe_load(keys_file.read_text())["keys"]}
    assert roles == {"admin", "writer", "reader", "reviewer", "service"}
