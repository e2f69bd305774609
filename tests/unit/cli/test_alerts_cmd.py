"""`llmops alerts` and `llmops objectives` against the real alerting app (in-memory publisher) through an
ASGI-backed transport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from llmops_alerting.bootstrap import AlertingPorts, create_app
from llmops_alerting.config import AlertingSettings
from llmops_alerting.engine import Engine, Observation
from llmops_alerting.ports import Secrets
from llmops_alerting.state import AlertBook, ConfigStore, Outbox
from llmops_cli.alerts_cmd import alerts_app, objectives_app
from llmops_cli.context import CliContext
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from rich.console import Console
from typer.testing import CliRunner, Result

from tests.unit.alerting.support import NOW
from tests.unit.alerting.test_objective_slis import FakeHistory
from tests.unit.cli.test_evals_cmd import SyncAsgi

ADMIN, READER = "dev-admin-key", "dev-reader-key"
ENV_VARS = ("LLMOPS_ALERTING_URL", "LLMOPS_API_KEY", "LLMOPS_DATA_DIR", "COLUMNS")

root = typer.Typer()
root.add_typer(alerts_app, name="alerts")
root.add_typer(objectives_app, name="objectives")


@pytest.fixture
def wired() -> AlertingPorts:
    keys = ApiKeyStore(
        [
            ApiKeyRecord(id="dev-admin", tenant_id="demo", role="admin", sha256=hash_key(ADMIN)),
            ApiKeyRecord(id="dev-reader", tenant_id="demo", role="reader", sha256=hash_key(READER)),
        ]
    )
    stores = (ConfigStore(), AlertBook(), Outbox())
    for store in stores:
        store.mark_caught_up()
    return AlertingPorts(
        InMemoryPublisher(), keys, *stores, metrics=FakeHistory(), secrets=Secrets({"pd": "R" * 32}), clock=lambda: NOW
    )


@pytest.fixture
def invoke(tmp_path: Path, wired: AlertingPorts) -> Callable[..., Result]:
    (tmp_path / "credentials.json").write_text(json.dumps({"admin": ADMIN}))
    app = create_app(AlertingSettings(), ports=wired)
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> Result:
        context = CliContext(
            transport=SyncAsgi(app),
            out=Console(width=220, color_system=None, force_terminal=False),
            err=Console(width=220, color_system=None, force_terminal=False, stderr=True),
        )
        env: dict[str, str | None] = dict.fromkeys(ENV_VARS)
        env["LLMOPS_DATA_DIR"] = str(tmp_path)
        return runner.invoke(root, list(args), obj=context, env=env, input=stdin)

    run.app = app  # type: ignore[attr-defined]
    return run


def test_rules_notifiers_alerts_and_silences(invoke: Callable[..., Result], wired: AlertingPorts) -> None:
    notifier = {"kind": "pagerduty", "url": "https://events.pagerduty.com/v2/enqueue", "secret_ref": "pd"}
    assert invoke("alerts", "notifiers", "set", "pd", "-", stdin=json.dumps(notifier)).exit_code == 0
    rule = {"name": "errors", "kind": "metric", "metric": "error_rate", "threshold": 0.05, "notifiers": ["pd"]}
    created = invoke("alerts", "rules", "set", "err", "-", stdin=json.dumps(rule))
    assert created.exit_code == 0 and "created err" in created.stdout
    bad = invoke("alerts", "rules", "set", "x", "-", stdin=json.dumps({**rule, "metric": "nope"}))
    assert bad.exit_code == 2 and "unknown metric 'nope'" in bad.stdout + bad.stderr
    assert "error_rate" in invoke("alerts", "rules", "list").stdout
    assert invoke("alerts", "list").stdout.strip() == "none"
    raised = Observation("demo", "err", "errors", "critical", {"app": "bot"}, True, NOW, "error_rate 0.2")
    asyncio.run(_observe(wired, raised))  # a rule's condition holds: the alert fires into the app's book
    assert raised.alert_id in invoke("alerts", "list").stdout
    acked = invoke("alerts", "ack", raised.alert_id)
    assert acked.exit_code == 0 and "acknowledged by dev-admin" in acked.stdout
    assert wired.book.get("demo", raised.alert_id).status == "acknowledged"
    silenced = invoke("alerts", "silence", "maint", "--match", "app=bot", "--hours", "1")
    assert silenced.exit_code == 0 and "{'app': 'bot'}" in silenced.stdout


async def _observe(wired: AlertingPorts, observation: Observation) -> None:
    engine = Engine(wired.book, wired.config, wired.outbox, wired.publisher, "/t", lambda: NOW)
    await engine.observe([observation])


def test_objectives_are_listed_with_their_budget(invoke: Callable[..., Result]) -> None:
    body = {"app": "bot", "sli": "error_rate", "target": 0.99, "window_days": 28}
    assert invoke("objectives", "set", "avail", "-", stdin=json.dumps(body)).exit_code == 0
    listed = invoke("objectives", "list")
    assert "avail" in listed.stdout and "0.99" in listed.stdout
    assert json.loads(invoke("objectives", "list", "--json").stdout)["items"][0]["status"] is None


def test_objectives_of_scores_thumbs_and_cost_show_their_budget(
    invoke: Callable[..., Result], wired: AlertingPorts
) -> None:
    history = wired.metrics
    assert isinstance(history, FakeHistory)
    for i in range(10):
        at = NOW - timedelta(minutes=i + 1)
        history.add("calls", at, call_id=f"c{i}", app="bot")
        history.add("feedback", at, feedback_id=f"f{i}", call_id=f"c{i}", kind="thumbs", value=0 if i < 5 else 1)
    history.add("cost_records", NOW - timedelta(minutes=1), app="bot", cost=3.0)
    thumbs = {"app": "bot", "sli": "thumbs_up_rate", "threshold": 1, "target": 0.9, "window_days": 7}
    daily = {"app": "bot", "sli": "cost_per_day", "threshold": 2.5, "target": 0.9, "window_days": 28}
    assert invoke("objectives", "set", "thumbs", "-", stdin=json.dumps(thumbs)).exit_code == 0
    assert invoke("objectives", "set", "daily", "-", stdin=json.dumps(daily)).exit_code == 0
    asyncio.run(invoke.app.state.alerting.poller.run_once())  # type: ignore[attr-defined]
    listed = invoke("objectives", "list")
    row = next(line for line in listed.stdout.splitlines() if "thumbs_up_rate" in line)
    assert "0.5" in row and "-400.0%" in row and "fast, slow" in row  # half down against a 10 % budget
    day = next(line for line in listed.stdout.splitlines() if "cost_per_day" in line)
    assert "fast, slow" in day
    status = json.loads(invoke("objectives", "list", "--json").stdout)["items"][0]["status"]
    assert status["events"] == 28 and status["truncated"] is False  # daily: today and the 27 days before (a slice each)
