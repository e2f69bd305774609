"""`llmops evals verdict` against the real evaluation app, its history a fake warehouse query API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from llmops_cli.context import CliContext
from llmops_cli.main import app as root
from llmops_evaluation.abtest.history import WarehouseHistory
from llmops_evaluation.bootstrap import EvaluationPorts, create_app
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.store import EvaluatorStore
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from rich.console import Console
from typer.testing import CliRunner, Result

from tests.unit.cli.test_evals_cmd import ENV_VARS, SyncAsgi
from tests.unit.evaluation.fake_warehouse import started_reader
from tests.unit.evaluation.test_verdict import stocked

ADMIN = "dev-admin-key"


@pytest.fixture
def invoke(tmp_path: Path) -> Callable[..., Result]:
    (tmp_path / "credentials.json").write_text(json.dumps({"admin": ADMIN}))
    store = EvaluatorStore()
    store.mark_caught_up()
    keys = ApiKeyStore([ApiKeyRecord(id="dev-admin", tenant_id="acme", role="admin", sha256=hash_key(ADMIN))])
    reader = asyncio.run(started_reader(stocked(400, lift=-1.0).transport()))
    history = WarehouseHistory(reader, gateway_source="/services/inference", max_calls=10_000, max_events=100_000)
    ports = EvaluationPorts(InMemoryPublisher(), keys, store, history=history)
    app = create_app(EvaluationSettings(verdict_min_samples=50), ports=ports)

    def run(*args: str) -> Result:
        console = Console(width=240, color_system=None, force_terminal=False)
        context = CliContext(transport=SyncAsgi(app), out=console, err=console)
        env: dict[str, str | None] = dict.fromkeys(ENV_VARS)
        env["LLMOPS_DATA_DIR"] = str(tmp_path)
        return CliRunner().invoke(root, list(args), obj=context, env=env)

    return run


def test_verdict_table_json_and_exit_codes(invoke: Callable[..., Result]) -> None:
    shown = invoke("evals", "verdict", "exp")
    assert shown.exit_code == 0, shown.output
    assert "exp (ab, running): variant_worse on relevance" in shown.output
    assert "variant b (200 calls): variant_worse" in shown.output
    assert "relevance *" in shown.output and "mann_whitney" in shown.output and "cohens_d" in shown.output
    as_json = invoke("evals", "verdict", "exp", "--json", "--metric", "error_rate")
    assert json.loads(as_json.stdout)["primary_metric"] == "error_rate"
    assert invoke("evals", "verdict", "exp", "--fail-on", "worse").exit_code == 3
    missing = invoke("evals", "verdict", "nope")
    assert missing.exit_code == 2 and "no experiment 'nope'" in missing.output
