"""`llmops keys create/list/rotate/revoke` against the real governance app (in-memory publisher, a key state that
has been read) through an ASGI-backed transport, with the admin key `llmops up` wrote."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from llmops_cli.context import CliContext
from llmops_cli.keys import keys_app
from llmops_governance_audit.bootstrap import GovernanceAuditPorts, create_app
from llmops_governance_audit.config import GovernanceAuditSettings
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.keystate import KeyStateView
from rich.console import Console
from typer.testing import CliRunner, Result

from tests.unit.cli.test_evals_cmd import SyncAsgi

ADMIN = "dev-admin-key"
ENV_VARS = ("LLMOPS_GOVERNANCE_URL", "LLMOPS_API_KEY", "LLMOPS_DATA_DIR", "COLUMNS")

root = typer.Typer()
root.add_typer(keys_app, name="keys")


@pytest.fixture
def store() -> ApiKeyStore:
    return ApiKeyStore([ApiKeyRecord(id="dev-admin", tenant_id="demo", role="admin", sha256=hash_key(ADMIN))])


@pytest.fixture
def invoke(tmp_path: Path, store: ApiKeyStore) -> Callable[..., Result]:
    (tmp_path / "credentials.json").write_text(json.dumps({"admin": ADMIN}))
    view = KeyStateView(store)
    view.mark_caught_up()
    app = create_app(GovernanceAuditSettings(), ports=GovernanceAuditPorts(InMemoryPublisher(), store, key_state=view))
    runner = CliRunner()

    def run(*args: str) -> Result:
        context = CliContext(
            transport=SyncAsgi(app),
            out=Console(width=200, color_system=None, force_terminal=False),
            err=Console(width=200, color_system=None, force_terminal=False, stderr=True),
        )
        env: dict[str, str | None] = dict.fromkeys(ENV_VARS)
        env["LLMOPS_DATA_DIR"] = str(tmp_path)
        return runner.invoke(root, list(args), obj=context, env=env)

    return run


def test_a_key_is_created_listed_rotated_and_revoked(invoke: Callable[..., Result], store: ApiKeyStore) -> None:
    created = invoke("keys", "create", "--name", "bot", "--role", "analyst", "--expires-in", "2h", "--json")
    assert created.exit_code == 0, created.output
    key, _, details = created.stdout.partition("\n")
    key_id = json.loads(details)["key_id"]
    assert key.startswith("llmops_") and created.output.count(key) == 1
    assert store.authenticate(key) is not None

    rotated = invoke("keys", "rotate", key_id, "--grace", "30s", "--json")
    assert rotated.exit_code == 0, rotated.output
    new_key, _, new_details = rotated.stdout.partition("\n")
    new_id = json.loads(new_details)["key_id"]
    assert store.authenticate(new_key) is not None and store.authenticate(key) is not None

    listed = invoke("keys", "list")
    assert listed.exit_code == 0 and "rotated" in listed.stdout and "dev-admin" in listed.stdout
    assert key not in listed.stdout and new_key not in listed.stdout

    revoked = invoke("keys", "revoke", new_id)
    assert revoked.exit_code == 0 and f"{new_id}: revoked" in revoked.stdout
    assert store.authenticate(new_key) is None


def test_refusals_exit_2_with_the_services_reason(invoke: Callable[..., Result]) -> None:
    unknown = invoke("keys", "revoke", "k-nope")
    tenant = invoke("keys", "create", "--tenant", "acme")
    assert unknown.exit_code == 2 and "no key 'k-nope'" in unknown.output
    assert tenant.exit_code == 2 and "--tenant and --id go with --offline" in tenant.output
