"""`llmops prompts` and `llmops experiments` against a fake gateway behind an ``httpx.MockTransport``.

The commands are mounted on a root app here, so these tests do not depend on how main.py registers them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from llmops_cli.context import CliContext
from llmops_cli.experiments_cmd import experiments_app
from llmops_cli.prompts_cmd import prompts_app
from rich.console import Console
from typer.testing import CliRunner, Result

ENV_VARS = ("LLMOPS_INFERENCE_URL", "LLMOPS_API_KEY", "LLMOPS_DATA_DIR", "COLUMNS")
AT = "2026-03-01T12:00:00Z"

root = typer.Typer()
root.add_typer(prompts_app, name="prompts")
root.add_typer(experiments_app, name="experiments")


def problem(status: int, detail: str, **extra: Any) -> httpx.Response:
    body = {"type": "about:blank", "title": "Error", "status": status, "detail": detail, **extra}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def version_body(number: int, labels: list[str] | None = None, content: str = "Be brief.") -> dict[str, Any]:
    return {
        "name": "support-answer",
        "version": number,
        "template": [{"role": "system", "content": content}, {"role": "user", "content": "{{ question }}"}],
        "variables": [{"name": "question", "description": None, "default": None}],
        "model": "gpt-4o-mini",
        "provider": None,
        "parameters": {"temperature": 0.2},
        "labels": labels or [],
        "description": None,
        "parent": None,
        "created_by": "dev-admin",
        "created_at": AT,
    }


EXPERIMENT = {
    "experiment_id": "canary-v3",
    "name": "v3 canary",
    "app": "support-bot",
    "kind": "canary",
    "status": "running",
    "control": "v2",
    "variants": [
        {"name": "v2", "weight": 0.9, "prompt": {"name": "support-answer", "version": 2}, "model": None},
        {"name": "v3", "weight": 0.1, "prompt": {"name": "support-answer", "version": 3}, "model": None},
    ],
    "version": 1,
    "updated_by": "dev-admin",
    "updated_at": AT,
}


@dataclass
class FakeGateway:
    """Answers ``(method, path)`` from ``routes``; keeps every request."""

    routes: dict[tuple[str, str], httpx.Response | Callable[[httpx.Request], httpx.Response]] = field(
        default_factory=dict
    )
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url.path))
        if answer is None:
            return problem(404, f"no route {request.method} {request.url.path}")
        return answer(request) if callable(answer) else answer

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    (path / "credentials.json").write_text(json.dumps({"admin": "dev-admin-key", "writer": "dev-writer-key"}))
    return path


Invoke = Callable[..., Result]


@pytest.fixture
def invoke(gateway: FakeGateway, data_dir: Path) -> Invoke:
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        context = CliContext(
            transport=httpx.MockTransport(gateway),
            out=Console(width=200, color_system=None, force_terminal=False),
            err=Console(width=200, color_system=None, force_terminal=False, stderr=True),
        )
        environment: dict[str, str | None] = dict.fromkeys(ENV_VARS)
        environment |= {"LLMOPS_DATA_DIR": str(data_dir), **(env or {})}
        return runner.invoke(root, list(args), obj=context, env=environment)

    return run


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


PROMPT_YAML = """
name: support-answer
description: Mention the shop by name.
template:
  - role: system
    content: You answer questions about orders for {{ shop }}.
  - role: user
    content: "{{ question }}"
variables:
  - name: shop
    default: Acme
  - name: question
model: gpt-4o-mini
parameters:
  temperature: 0.2
labels: [staging]
"""


# --- prompts -----------------------------------------------------------------------------------------


def test_create_posts_the_file_with_the_admin_key_of_llmops_up(
    invoke: Invoke, gateway: FakeGateway, tmp_path: Path
) -> None:
    path = ("POST", "/v1/prompts/support-answer/versions")
    gateway.routes[path] = httpx.Response(201, json=version_body(3, ["canary", "staging"]))

    result = invoke("prompts", "create", str(write(tmp_path, "p.yaml", PROMPT_YAML)), "--label", "canary")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "support-answer version 3 created (labels: canary, staging)"
    request = gateway.requests[0]
    assert str(request.url) == "http://127.0.0.1:8003/v1/prompts/support-answer/versions"
    assert request.headers["authorization"] == "Bearer dev-admin-key"
    sent = gateway.body()
    assert "name" not in sent
    assert sent["labels"] == ["staging", "canary"]
    assert sent["variables"] == [{"name": "shop", "default": "Acme"}, {"name": "question"}]


def test_create_again_with_the_same_content_says_so(invoke: Invoke, gateway: FakeGateway, tmp_path: Path) -> None:
    gateway.routes[("POST", "/v1/prompts/support-answer/versions")] = httpx.Response(200, json=version_body(3))
    result = invoke("prompts", "create", str(write(tmp_path, "p.yaml", PROMPT_YAML + "version: 3\n")))
    assert result.exit_code == 0
    assert "version 3 already exists with this content" in result.stdout


def test_a_refused_version_exits_2_with_the_gateways_reason(
    invoke: Invoke, gateway: FakeGateway, tmp_path: Path
) -> None:
    detail = "prompt 'support-answer' version 3 already exists with other content"
    gateway.routes[("POST", "/v1/prompts/support-answer/versions")] = problem(409, detail)
    result = invoke("prompts", "create", str(write(tmp_path, "p.yaml", PROMPT_YAML)))
    assert result.exit_code == 2
    assert f"409 {detail}" in result.stderr


@pytest.mark.parametrize(
    ("text", "message"), [("- a\n- b\n", "expected a mapping"), ("template: []\n", "no prompt name")]
)
def test_a_bad_file_exits_2_without_a_request(
    invoke: Invoke, gateway: FakeGateway, tmp_path: Path, text: str, message: str
) -> None:
    result = invoke("prompts", "create", str(write(tmp_path, "p.yaml", text)))
    assert result.exit_code == 2
    assert message in result.stderr
    assert gateway.requests == []


def test_an_unreachable_gateway_exits_1(invoke: Invoke, gateway: FakeGateway) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    gateway.routes[("GET", "/v1/prompts")] = refuse
    result = invoke("prompts", "list", env={"LLMOPS_INFERENCE_URL": "http://gw:9000", "LLMOPS_API_KEY": "k"})
    assert result.exit_code == 1
    assert "cannot reach the inference gateway at http://gw:9000" in result.stderr
    assert gateway.requests[0].headers["authorization"] == "Bearer k"


def test_list_shows_a_row_per_prompt(invoke: Invoke, gateway: FakeGateway) -> None:
    items = [
        {"name": "support-answer", "latest_version": 3, "versions": 3, "labels": {"production": 2}, "updated_at": AT}
    ]
    gateway.routes[("GET", "/v1/prompts")] = httpx.Response(200, json={"items": items})
    result = invoke("prompts", "list")
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if "support-answer" in line)
    assert [c.strip() for c in row.split("│")[1:-1]] == ["support-answer", "3", "3", "production→2", AT]


def test_show_a_label_prints_its_versions_template(invoke: Invoke, gateway: FakeGateway) -> None:
    detail = {
        "name": "support-answer",
        "latest_version": 3,
        "labels": [{"label": "production", "version": 2, "history": [1], "source": "label"}],
        "versions": [],
    }
    gateway.routes[("GET", "/v1/prompts/support-answer")] = httpx.Response(200, json=detail)
    gateway.routes[("GET", "/v1/prompts/support-answer/versions/2")] = httpx.Response(
        200, json=version_body(2, ["production"], content="Be kind.")
    )
    result = invoke("prompts", "show", "support-answer", "--label", "production")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "support-answer version 2 (labels: production)"
    assert "--- system ---\nBe kind.\n--- user ---\n{{ question }}" in result.stdout
    missing = invoke("prompts", "show", "support-answer", "--label", "qa")
    assert missing.exit_code == 2 and "has no label 'qa' (labels: production)" in missing.stderr


def test_diff_passes_from_and_to_and_prints_the_diff(invoke: Invoke, gateway: FakeGateway) -> None:
    body = {
        "name": "support-answer",
        "from_version": 2,
        "to_version": 3,
        "changed": ["template"],
        "diff": "--- a/support-answer@v2\n+++ b/support-answer@v3\n-Be kind.\n+Be brief.",
    }
    gateway.routes[("GET", "/v1/prompts/support-answer/diff")] = httpx.Response(200, json=body)
    result = invoke("prompts", "diff", "support-answer", "production", "3")
    assert result.exit_code == 0
    assert dict(gateway.requests[0].url.params) == {"from": "production", "to": "3"}
    assert result.stdout.splitlines() == [
        "support-answer v2 → v3: changed template",
        "--- a/support-answer@v2",
        "+++ b/support-answer@v3",
        "-Be kind.",
        "+Be brief.",
    ]


def test_label_and_rollback(invoke: Invoke, gateway: FakeGateway) -> None:
    gateway.routes[("PUT", "/v1/prompts/support-answer/labels/production")] = httpx.Response(
        200, json={"label": "production", "version": 3, "history": [1, 2]}
    )
    gateway.routes[("POST", "/v1/prompts/support-answer/rollback")] = httpx.Response(
        200, json={"label": "production", "version": 2, "history": [1]}
    )
    moved = invoke("prompts", "label", "support-answer", "production", "3", "--reason", "friendlier")
    assert moved.exit_code == 0
    assert moved.stdout.strip() == "support-answer: production → version 3 (was 2)"
    assert gateway.body() == {"version": 3, "reason": "friendlier"}

    back = invoke("prompts", "rollback", "support-answer")
    assert back.exit_code == 0
    assert back.stdout.strip() == "support-answer: production rolled back to version 2"
    assert gateway.body() == {"label": "production", "reason": None}


def test_render_sends_variables_as_json_values(invoke: Invoke, gateway: FakeGateway) -> None:
    answer = {
        "messages": [{"role": "user", "content": "Hi 3"}],
        "model": "gpt-4o-mini",
        "ref": {"name": "support-answer", "version": 2, "label": "production"},
    }
    gateway.routes[("POST", "/v1/prompts/render")] = httpx.Response(200, json=answer)
    result = invoke("prompts", "render", "support-answer", "--var", "question=Hi", "--var", "count=3")
    assert result.exit_code == 0
    assert gateway.body() == {"name": "support-answer", "variables": {"question": "Hi", "count": 3}}
    assert "--- user ---\nHi 3" in result.stdout


# --- experiments -------------------------------------------------------------------------------------

EXPERIMENT_YAML = """
id: canary-v3
name: v3 canary
app: support-bot
kind: canary
control: v2
variants:
  - {name: v2, weight: 0.9, prompt: {name: support-answer, version: 2}}
  - {name: v3, weight: 0.1, prompt: {name: support-answer, version: 3}}
"""


def test_experiments_create_from_yaml(invoke: Invoke, gateway: FakeGateway, tmp_path: Path) -> None:
    gateway.routes[("POST", "/v1/experiments")] = httpx.Response(201, json=EXPERIMENT)
    result = invoke("experiments", "create", str(write(tmp_path, "e.yaml", EXPERIMENT_YAML)), "--draft")
    assert result.exit_code == 0, result.output
    sent = gateway.body()
    assert (sent["experiment_id"], sent["start"], "id" in sent) == ("canary-v3", False, False)
    assert result.stdout.strip() == "canary-v3 created: running, version 1, weights v2 0.9, v3 0.1"


def test_experiments_list_and_show(invoke: Invoke, gateway: FakeGateway) -> None:
    gateway.routes[("GET", "/v1/experiments")] = httpx.Response(200, json={"items": [EXPERIMENT]})
    gateway.routes[("GET", "/v1/experiments/canary-v3")] = httpx.Response(200, json=EXPERIMENT)
    listed = invoke("experiments", "list", "--status", "running")
    assert listed.exit_code == 0
    assert dict(gateway.requests[0].url.params) == {"status": "running"}
    row = next(line for line in listed.stdout.splitlines() if "canary-v3" in line)
    assert [c.strip() for c in row.split("│")[1:-1]] == [
        "canary-v3",
        "canary",
        "running",
        "support-bot",
        "1",
        "v2 0.9, v3 0.1",
    ]
    shown = invoke("experiments", "show", "canary-v3")
    assert shown.exit_code == 0
    assert "v2 (control)" in shown.stdout and "support-answer v3" in shown.stdout


def test_set_weights_sends_pairs_or_the_canary_share(invoke: Invoke, gateway: FakeGateway) -> None:
    changed = {**EXPERIMENT, "version": 2}
    gateway.routes[("PATCH", "/v1/experiments/canary-v3")] = httpx.Response(200, json=changed)

    assert invoke("experiments", "set-weights", "canary-v3", "v3=0.25").exit_code == 0
    assert gateway.body() == {"weights": {"v3": 0.25}}
    result = invoke("experiments", "set-weights", "canary-v3", "--canary", "0.5", "--expected-version", "1")
    assert result.exit_code == 0
    assert gateway.body() == {"canary_weight": 0.5, "expected_version": 1}
    assert "canary-v3 changed: running, version 2" in result.stdout


@pytest.mark.parametrize("args", [(), ("v3=0.2", "--canary", "0.2"), ("v3",), ("v3=lots",)])
def test_set_weights_usage_errors_exit_2(invoke: Invoke, gateway: FakeGateway, args: tuple[str, ...]) -> None:
    result = invoke("experiments", "set-weights", "canary-v3", *args)
    assert result.exit_code == 2
    assert gateway.requests == []


def test_pause_resume_and_stop(invoke: Invoke, gateway: FakeGateway) -> None:
    gateway.routes[("PATCH", "/v1/experiments/canary-v3")] = lambda r: httpx.Response(
        200, json={**EXPERIMENT, **json.loads(r.content)}
    )
    gateway.routes[("POST", "/v1/experiments/canary-v3/stop")] = httpx.Response(
        200, json={**EXPERIMENT, "status": "completed", "version": 4}
    )
    assert "paused: paused" in invoke("experiments", "pause", "canary-v3").stdout
    assert gateway.body() == {"status": "paused"}
    assert "started: running" in invoke("experiments", "resume", "canary-v3").stdout
    stopped = invoke("experiments", "stop", "canary-v3")
    assert stopped.exit_code == 0
    assert stopped.stdout.startswith("canary-v3 stopped: completed, version 4")


def test_a_conflicting_experiment_exits_2(invoke: Invoke, gateway: FakeGateway, tmp_path: Path) -> None:
    gateway.routes[("POST", "/v1/experiments")] = problem(409, "experiment 'ab-1' already routes this traffic")
    result = invoke("experiments", "create", str(write(tmp_path, "e.yaml", EXPERIMENT_YAML)))
    assert result.exit_code == 2
    assert "409 experiment 'ab-1' already routes this traffic" in result.stderr
