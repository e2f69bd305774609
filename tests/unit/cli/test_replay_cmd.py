"""`llmops evals replay` against a scripted replay API (httpx.MockTransport): the body it sends, the progress it
follows to the end, and its exit codes. The API itself is tested on the real app (tests/unit/evaluation)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from llmops_cli.context import CliContext
from llmops_cli.evals_cmd import evals_app
from llmops_cli.main import app as _registers_replay  # noqa: F401
from rich.console import Console
from typer.testing import CliRunner, Result

from tests.unit.cli.test_evals_cmd import ADMIN, ENV_VARS

root = typer.Typer()
root.add_typer(evals_app, name="evals")  # llmops_cli.main added `replay` to `evals`

STATE = {
    "replay_id": "rp-1",
    "evaluators": [{"name": "answer-length", "kind": "length", "params": {}, "version": "1+abc"}],
    "source": "topic",
    "status": "running",
    "processed": 0,
    "scored": 0,
    "expected": 10,
    "updated_at": "2026-03-14T09:26:53Z",
}


class ScriptedApi:
    """Answers POST with the first state, then each GET with the next of ``states``."""

    def __init__(self, *states: dict[str, Any]) -> None:
        self.states = list(states)
        self.bodies: list[Any] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            self.bodies.append(body)
            if body["evaluators"][0]["name"] == "unknown":
                return httpx.Response(404, json={"title": "Not Found", "detail": "no evaluator 'unknown' to replay"})
            return httpx.Response(201, json=STATE)
        if request.url.path == "/v1/replays":
            return httpx.Response(200, json={"items": [self.states[-1]]})
        return httpx.Response(200, json=self.states.pop(0) if len(self.states) > 1 else self.states[0])


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[Result, ScriptedApi]]:
    (tmp_path / "credentials.json").write_text(json.dumps({"admin": ADMIN}))
    monkeypatch.setattr("llmops_cli.replay_cmd._POLL_S", 0)

    def run(api: ScriptedApi, *args: str) -> tuple[Result, ScriptedApi]:
        context = CliContext(
            transport=httpx.MockTransport(api),
            out=Console(width=200, color_system=None, force_terminal=False),
            err=Console(width=200, color_system=None, force_terminal=False, stderr=True),
        )
        env: dict[str, str | None] = dict.fromkeys(ENV_VARS)
        env["LLMOPS_DATA_DIR"] = str(tmp_path)
        return CliRunner().invoke(root, ["evals", "replay", *args], obj=context, env=env), api

    return run


def test_start_follows_the_replay_to_its_end(invoke: Callable[..., tuple[Result, ScriptedApi]]) -> None:
    api = ScriptedApi(
        {**STATE, "processed": 5, "scored": 4}, {**STATE, "status": "completed", "processed": 10, "scored": 9}
    )
    result, _ = invoke(
        api, "start", "--new", "short:length:{\"max_chars\": 50}", "--evaluator", "answer-length",
        "--partition", "0:100-200", "--partition", "2:5", "--rate", "500",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [body] = api.bodies
    assert body["evaluators"] == [
        {"name": "answer-length"},
        {"name": "short", "kind": "length", "params": {"max_chars": 50}},
    ]
    assert body["ranges"] == [{"partition": 0, "start": 100, "end": 200}, {"partition": 2, "start": 5}]
    assert (body["source"], body["rate_limit_per_s"]) == ("topic", 500)
    assert "completed" in result.stdout and "10/10" in result.stderr


def test_a_warehouse_replay_sends_its_window_and_a_failed_one_exits_1(
    invoke: Callable[..., tuple[Result, ScriptedApi]],
) -> None:
    api = ScriptedApi({**STATE, "status": "failed", "error": "warehouse answered 403"})
    result, _ = invoke(api, "start", "--evaluator", "answer-length", "--since", "2", "--app", "support-bot")
    assert result.exit_code == 1
    [body] = api.bodies
    assert (body["source"], body["app"]) == ("warehouse", "support-bot")
    assert "warehouse answered 403" in result.stdout


def test_bad_input_exits_2(invoke: Callable[..., tuple[Result, ScriptedApi]]) -> None:
    api = ScriptedApi(STATE)
    assert invoke(api, "start")[0].exit_code == 2
    assert invoke(api, "start", "--new", "nokind")[0].exit_code == 2
    assert invoke(api, "start", "--partition", "x:1")[0].exit_code == 2
    refused, _ = invoke(api, "start", "--evaluator", "unknown")
    assert refused.exit_code == 2 and "no evaluator 'unknown'" in refused.stderr


def test_status_and_list(invoke: Callable[..., tuple[Result, ScriptedApi]]) -> None:
    done = {**STATE, "status": "completed", "processed": 10, "scored": 10}
    status, _ = invoke(ScriptedApi(done), "status", "rp-1", "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["status"] == "completed"
    listed, _ = invoke(ScriptedApi(done), "list")
    assert listed.exit_code == 0 and "answer-length@1+abc" in listed.stdout
