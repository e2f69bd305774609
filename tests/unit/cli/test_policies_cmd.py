"""`llmops policies put/list/get/delete` against the real governance app (in-memory publisher, a policy store that
has been read) through an ASGI-backed transport, with the admin key `llmops up` wrote."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from llmops_cli.context import CliContext
from llmops_cli.policies_cmd import policies_app
from llmops_governance_audit.bootstrap import GovernanceAuditPorts, create_app
from llmops_governance_audit.config import GovernanceAuditSettings
from llmops_governance_audit.policies.registry import PolicyStore
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from rich.console import Console
from typer.testing import CliRunner, Result

from tests.unit.cli.test_evals_cmd import SyncAsgi

ADMIN = "dev-admin-key"
ENV_VARS = ("LLMOPS_GOVERNANCE_URL", "LLMOPS_API_KEY", "LLMOPS_DATA_DIR", "COLUMNS")

root = typer.Typer()
root.add_typer(policies_app, name="policies")


@pytest.fixture
def invoke(tmp_path: Path) -> Callable[..., Result]:
    (tmp_path / "credentials.json").write_text(json.dumps({"admin": ADMIN}))
    store = ApiKeyStore([ApiKeyRecord(id="dev-admin", tenant_id="demo", role="admin", sha256=hash_key(ADMIN))])
    policies = PolicyStore()
    policies.mark_caught_up()

    async def tombstone(topic: str, key: bytes) -> None:
        return None

    ports = GovernanceAuditPorts(InMemoryPublisher(), store, policies=policies, tombstone=tombstone)
    app = create_app(GovernanceAuditSettings(), ports=ports)
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


def test_a_policy_is_put_listed_shown_and_deleted(invoke: Callable[..., Result], tmp_path: Path) -> None:
    file = tmp_path / "terms.yaml"
    file.write_text("name: No code names\nsettings:\n  kind: blocked_terms\n  app: support-bot\n  terms: [falcon]\n")
    put = invoke("policies", "put", "support-terms", str(file))
    assert put.exit_code == 0, put.output
    assert "support-terms: created, version 1 (1 blocked terms)" in put.stdout
    listed = invoke("policies", "list")
    assert listed.exit_code == 0 and "support-terms" in listed.stdout and "support-bot" in listed.stdout
    assert "falcon" not in listed.stdout, "the list counts terms, it does not show them"
    shown = invoke("policies", "get", "support-terms", "--json")
    assert json.loads(shown.stdout)["settings"]["terms"] == ["falcon"]
    deleted = invoke("policies", "delete", "support-terms")
    assert deleted.exit_code == 0 and "deleted (was version 1)" in deleted.stdout
    assert json.loads(invoke("policies", "list", "--json").stdout) == {"policies": []}


def test_a_bad_policy_exits_2_with_the_services_message(invoke: Callable[..., Result], tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text("name: bad\nsettings:\n  kind: data_classification\n  app: hr\n  classification: secret\n")
    result = invoke("policies", "put", "hr-data", str(file))
    assert result.exit_code == 2
    assert "'public', 'internal', 'confidential' or 'restricted'" in result.output
