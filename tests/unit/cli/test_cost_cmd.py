"""`llmops cost` against the real cost app (in-memory publisher, fake warehouse history) through an
ASGI-backed transport."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from llmops_cli.context import CliContext
from llmops_cli.cost_cmd import _budget_row, budgets_app, cost_app
from llmops_cost.bootstrap import CostPorts, create_app
from llmops_cost.config import CostSettings
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from rich.console import Console
from typer.testing import CliRunner, Result

from tests.unit.cli.test_evals_cmd import SyncAsgi
from tests.unit.feedback.history import InMemoryHistory

ADMIN = "dev-admin-key"
ENV_VARS = ("LLMOPS_COST_URL", "LLMOPS_API_KEY", "LLMOPS_DATA_DIR", "COLUMNS")

root = typer.Typer()
root.add_typer(cost_app, name="cost")
root.add_typer(budgets_app, name="budgets")


@pytest.fixture
def invoke(tmp_path: Path) -> Callable[..., Result]:
    (tmp_path / "credentials.json").write_text(json.dumps({"admin": ADMIN}))
    history = InMemoryHistory()
    at = datetime.now(UTC) - timedelta(hours=1)
    for n, (app, cost) in enumerate([("chat", "0.25"), ("chat", "0.5"), ("search", None)]):
        record = {"call_id": f"call-{n}", "app": app, "model": "gpt-4o-mini", "cost": cost,
                  "call_started_at": at.isoformat(), "prompt_tokens": 10, "completion_tokens": 2}  # fmt: skip
        history.add("demo", "cost_records", record, at)
    keys = ApiKeyStore([ApiKeyRecord(id="dev-admin", tenant_id="demo", role="admin", sha256=hash_key(ADMIN))])
    app = create_app(CostSettings(), ports=CostPorts(InMemoryPublisher(), keys, history=history))
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


def test_price_prints_the_catalog_cost_of_one_call_as_json(invoke: Callable[..., Result]) -> None:
    result = invoke("cost", "price", "gpt-4o-mini", "--prompt-tokens", "1000", "--completion-tokens", "500", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert Decimal(body["usd"]) == Decimal("0.00045")
    assert body["catalog_version"] == "litellm-1.108.7"


def test_an_unknown_model_exits_2(invoke: Callable[..., Result]) -> None:
    result = invoke("cost", "price", "gpt-99", "--prompt-tokens", "1")
    assert result.exit_code == 2
    assert "no price for model" in result.output


def test_report_groups_by_app(invoke: Callable[..., Result]) -> None:
    result = invoke("cost", "report", "--group-by", "app", "--period", "day", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["group"]: (r["calls"], r["unpriced"], Decimal(r["usd"])) for r in json.loads(result.stdout)}
    assert rows == {"chat": (2, 0, Decimal("0.75")), "search": (1, 1, Decimal(0))}


def test_estimate_prices_a_dataset_offline(invoke: Callable[..., Result], tmp_path: Path) -> None:
    dataset = tmp_path / "examples.jsonl"
    dataset.write_text("\n".join(json.dumps({"input": f"Where is parcel {n}?"}) for n in range(5)))
    result = invoke("cost", "estimate", str(dataset), "--model", "gpt-4o-mini", "--completion-tokens", "100", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["texts"], body["completion_tokens"], body["tokens_estimated"]) == (5, 500, True)


def test_estimate_refuses_a_line_without_the_field(invoke: Callable[..., Result], tmp_path: Path) -> None:
    dataset = tmp_path / "examples.jsonl"
    dataset.write_text('{"question": "x"}\n')
    result = invoke("cost", "estimate", str(dataset), "--model", "gpt-4o-mini")
    assert result.exit_code == 2
    assert "no 'input'" in result.output


def test_budgets_set_list_show(invoke: Callable[..., Result]) -> None:
    made = invoke("budgets", "set", "chat-daily", "--limit", "5", "--period", "daily", "--scope", "app",
                  "--value", "chat", "--block", "--json")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["budget"]["action"] == "block"
    listed = invoke("budgets", "list")
    assert "chat-daily" in listed.stdout and "app chat" in listed.stdout
    assert invoke("budgets", "show", "nope").exit_code == 2
    assert invoke("budgets", "set", "b", "--limit", "-3").exit_code == 2


def test_a_budget_whose_spend_is_a_lower_bound_says_at_least() -> None:
    view = {"budget": {"budget_id": "m", "scope": {"kind": "tenant"}, "period": "monthly", "limit": "5",
                       "currency": "USD", "action": "alert"},
            "spent": "1.5", "reserved": "0", "period_start": "2026-12-01T00:00:00Z"}  # fmt: skip
    assert _budget_row(view)["spent"] == "1.5"
    assert _budget_row({**view, "spent_lower_bound": "more than 100000 cost events"})["spent"] == "at least 1.5"
