"""`llmops feedback` against the real feedback app (in-memory publisher, fake warehouse history) through an
ASGI-backed transport."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from llmops_cli.context import CliContext
from llmops_cli.feedback_cmd import feedback_app
from llmops_feedback.bootstrap import FeedbackPorts, create_app
from llmops_feedback.config import FeedbackSettings
from llmops_feedback.review.state import ReviewState
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from rich.console import Console
from typer.testing import CliRunner, Result

from tests.unit.cli.test_evals_cmd import SyncAsgi
from tests.unit.feedback.history import InMemoryHistory

ADMIN, REVIEWER = "dev-admin-key", "dev-reviewer-key"
ENV_VARS = ("LLMOPS_FEEDBACK_URL", "LLMOPS_API_KEY", "LLMOPS_DATA_DIR", "COLUMNS")

root = typer.Typer()
root.add_typer(feedback_app, name="feedback")


@pytest.fixture
def invoke(tmp_path: Path) -> Callable[..., Result]:
    (tmp_path / "credentials.json").write_text(json.dumps({"admin": ADMIN, "reviewer": REVIEWER}))
    history = InMemoryHistory()
    for n in range(3):
        call = {"call_id": f"call-{n}", "app": "chat", "model": "m", "status": "ok",
                "messages": [{"role": "user", "content": "Where is my parcel?"}],
                "choices": [{"output": f"answer {n}"}]}  # fmt: skip
        history.add("demo", "calls", call, datetime.now(UTC) - timedelta(hours=1))
    correction = {"feedback_id": "f1", "call_id": "call-1", "kind": "correction", "correction": "On Friday."}
    history.add("demo", "feedback", correction, datetime.now(UTC) - timedelta(minutes=5), key_id="dev-reviewer")
    state = ReviewState()
    state.queues_view.mark_caught_up()
    state.items_view.mark_caught_up()
    keys = ApiKeyStore(
        [
            ApiKeyRecord(id="dev-admin", tenant_id="demo", role="admin", sha256=hash_key(ADMIN)),
            ApiKeyRecord(id="dev-reviewer", tenant_id="demo", role="reviewer", sha256=hash_key(REVIEWER)),
        ]
    )
    ports = FeedbackPorts(InMemoryPublisher(), keys, review_state=state, history=history)
    app = create_app(FeedbackSettings(), ports=ports)
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


def test_a_queue_from_creation_to_export(invoke: Callable[..., Result], tmp_path: Path) -> None:
    assert invoke("feedback", "queues", "list").stdout.strip() == "no review queues"
    created = invoke("feedback", "queues", "create", "sampled", "--source", "sample", "--params", '{"size": 2}',
                     "--labels", "good,bad")  # fmt: skip
    assert created.exit_code == 0, created.output
    assert created.stdout.strip() == "sampled created with 2 items"
    listed = invoke("feedback", "queues", "list")
    assert "sampled" in listed.stdout and "sample" in listed.stdout and "0%" in listed.stdout

    claimed = invoke("feedback", "queues", "next", "sampled", "--api-key", REVIEWER)
    assert claimed.exit_code == 0, claimed.output
    item = json.loads(invoke("feedback", "queues", "items", "sampled", "--json").stdout)["items"][0]
    assert item["locked_by"] == "dev-reviewer"
    by_admin = invoke("feedback", "queues", "review", "sampled", item["item_id"], "--verdict", "approve")
    assert by_admin.exit_code == 2 and "claim item" in by_admin.output
    bad = invoke("feedback", "queues", "review", "sampled", item["item_id"], "--rating", "9", "--api-key", REVIEWER)
    assert bad.exit_code == 2 and "rating: Input should be less than or equal to 5" in bad.output
    reviewed = invoke("feedback", "queues", "review", "sampled", item["item_id"], "--correction", "It comes Friday.",
                      "--label", "bad", "--api-key", REVIEWER)  # fmt: skip
    assert reviewed.exit_code == 0, reviewed.output
    shown = invoke("feedback", "queues", "show", "sampled")
    assert "50%" in shown.stdout

    out = tmp_path / "dpo.jsonl"
    exported = invoke("feedback", "export", "dpo", "--out", str(out), "--since", "1d")
    assert exported.exit_code == 0, exported.output
    assert "1 dpo rows written" in exported.stdout, exported.output
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["chosen"] == [{"role": "assistant", "content": "On Friday."}]
    assert row["lineage"]["call_ids"] == ["call-1"] and row["lineage"]["reviewer"] == "dev-reviewer"


def test_unknown_queue_and_bad_export_exit_2(invoke: Callable[..., Result], tmp_path: Path) -> None:
    missing = invoke("feedback", "queues", "next", "nope")
    assert missing.exit_code == 2 and "no review queue 'nope'" in missing.output
    wrong = invoke("feedback", "export", "dpo", "--out", str(tmp_path / "x.jsonl"), "--source", "approved")
    assert wrong.exit_code == 2 and "dpo rows come from" in wrong.output
