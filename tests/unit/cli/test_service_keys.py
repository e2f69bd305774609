"""`llmops up` gives the feedback service a `service` key for the warehouse: created once, hashed in the keys
file next to the demo tenant's keys, and usable against that file."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml
from llmops_cli.platform import ensure_dev_keys, ensure_service_key
from llmops_kit.auth import ANY_TENANT, ApiKeyStore


def test_a_service_key_is_created_once_and_authenticates(tmp_path: Path) -> None:
    keys_file, _ = ensure_dev_keys(tmp_path)
    key = ensure_service_key(tmp_path, keys_file, "feedback")
    assert ensure_service_key(tmp_path, keys_file, "feedback") == key
    principal = ApiKeyStore.from_file(keys_file).authenticate(key)
    assert principal is not None and principal.tenant_id == ANY_TENANT and principal.key_id == "svc-feedback"
    ids = [k["id"] for k in yaml.safe_load(keys_file.read_text())["keys"]]
    assert ids.count("svc-feedback") == 1 and "dev-reviewer" in ids
    assert stat.S_IMODE((tmp_path / "service-feedback.key").stat().st_mode) == 0o600
    assert key not in keys_file.read_text()
