"""`llmops evals` against the real evaluation app (in-memory publisher) through an ASGI-backed transport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import typer
from llmops_cli.context import CliContext
from llmops_cli.evals_cmd import evals_app
from llmops_evaluation.bootstrap import EvaluationPorts, create_app
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.store import EvaluatorStore
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from rich.console import Console
from typer.testing import CliRunner, Result

ADMIN = "dev-admin-key"
ENV_VARS = ("LLMOPS_EVALUATION_URL", "LLMOPS_API_KEY", "LLMOPS_DATA_DIR", "COLUMNS")

root = typer.Typer()
root.add_typer(evals_app, name="evals")


class SyncAsgi(httpx.BaseTransport):
    """Runs each request through the ASGI app on a private event loop (the CLI's client is synchronous)."""

    def __init__(self, app: object) -> None:
        self._inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self._inner.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return asyncio.run(send())


@pytest.fixture
def invoke(tmp_path: Path) -> Callable[..., Result]:
    (tmp_path / "credentials.json").write_text(json.dumps({"admin": ADMIN}))
    store = EvaluatorStore()
    store.mark_caught_up()
    keys = ApiKeyStore([ApiKeyRecord(id="dev-admin", tenant_id="demo", role="admin", sha256=hash_key(ADMIN))])
    app = create_app(EvaluationSettings(), ports=EvaluationPorts(InMemoryPublisher(), keys, store))
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


def test_set_list_delete(invoke: Callable[..., Result]) -> None:
    assert invoke("evals", "list").stdout.strip() == "no evaluators"
    created = invoke("evals", "set", "answer-json", "--kind", "json", "--app", "support-bot", "--sampling-rate", "0.25")
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("answer-json created: json on app support-bot, version 1+")
    again = invoke(
        "evals", "set", "answer-json", "--kind", "json", "--app", "support-bot", "--params", '{"fences": false}'
    )
    assert "answer-json updated" in again.stdout
    listed = invoke("evals", "list")
    assert "answer-json" in listed.stdout and '{"fences": false}' in listed.stdout and "support-bot" in listed.stdout
    as_json = json.loads(invoke("evals", "list", "--json").stdout)
    assert as_json["items"][0]["config"]["params"] == {"fences": False}
    assert invoke("evals", "delete", "answer-json").stdout.strip() == "answer-json deleted"
    assert invoke("evals", "list").stdout.strip() == "no evaluators"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--kind", "nope", "--app", "a"), "unknown evaluator kind 'nope'"),
        (("--kind", "length", "--app", "a", "--params", "{not json"), "--params is not JSON"),
        (("--kind", "length", "--app", "a", "--params", "[1]"), "--params must be a JSON object"),
    ],
)
def test_bad_input_exits_2_with_the_reason(invoke: Callable[..., Result], args: tuple[str, ...], message: str) -> None:
    result = invoke("evals", "set", "e", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_deleting_an_unknown_evaluator_exits_2(invoke: Callable[..., Result]) -> None:
    result = invoke("evals", "delete", "ghost")
    assert result.exit_code == 2 and "404 no evaluator 'ghost'" in result.stderr
