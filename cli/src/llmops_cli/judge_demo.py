"""The LLM-as-judge part of the `llmops up` demo: a rubric in the prompt registry, a judge evaluator, one call
judged by the model server's deterministic ``judge`` through the gateway, and its score read from the warehouse.

A judge needs the evaluation service to reach the gateway with a service key (``LLMOPS_GATEWAY_URL`` and
``LLMOPS_SERVICE_KEY``, which `llmops up` passes); without them the evaluator is refused (422) and the demo says
so instead of failing the whole start.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from llmops_cli.platform import GATEWAY_MODEL, JUDGE_MODEL, LocalPlatform

__all__ = ["JUDGE_APP", "JUDGE_RUBRIC", "run_judge_demo"]

JUDGE_APP = "llmops-judge-demo"
JUDGE_RUBRIC = "demo-rubric"
JUDGE_WAIT_S = 60.0
RUBRIC_VERSION = {
    "template": [
        {"role": "system", "content": "You grade support answers from 1 to 5. Reply 'Score: n/5' and one reason."},
        {
            "role": "user",
            "content": "<question>{{ question }}</question>\n<context>{{ context }}</context>\n"
            "<answer>{{ answer }}</answer>",
        },
    ],
    "variables": [{"name": "question"}, {"name": "context", "default": ""}, {"name": "answer"}],
    "description": "How relevant and grounded an answer is (the llmops up demo's judge rubric)",
    "labels": ["production"],
}


def run_judge_demo(platform: LocalPlatform, keys: dict[str, str], console: Console) -> None:
    """Publish the rubric, set the judge, send one call through the gateway and print its judge score."""
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    with httpx.Client(base_url=platform.url("inference"), timeout=60) as gateway:
        rubric = gateway.post(f"/v1/prompts/{JUDGE_RUBRIC}/versions", headers=admin, json=RUBRIC_VERSION)
        if rubric.status_code >= 400:
            console.print(f"[yellow]judge: the rubric was refused: HTTP {rubric.status_code}[/]")
            return
        spec = {
            "kind": "llm_judge",
            "app": JUDGE_APP,
            "params": {
                "model": JUDGE_MODEL,
                "prompt": {"name": JUDGE_RUBRIC, "label": "production"},
                "pass_threshold": 3,
            },
        }
        with httpx.Client(base_url=platform.url("evaluation"), timeout=60) as evaluation:
            configured = evaluation.put("/v1/evaluators/demo-judge", headers=admin, json=spec)
        if configured.status_code >= 400:
            detail = configured.json().get("detail", configured.text) if configured.content else ""
            console.print(f"[yellow]judge: not configured ({configured.status_code}): {escape(str(detail))}[/]")
            return
        writer = {"Authorization": f"Bearer {keys['writer']}", "X-LLMOps-App": JUDGE_APP}
        chat = {
            "model": GATEWAY_MODEL,
            "messages": [
                {"role": "system", "content": "Light is refracted by a prism into colours."},
                {"role": "user", "content": "What does a prism do to light?"},
            ],
            "max_tokens": 24,
            "seed": 1,
        }
        answered = gateway.post("/v1/chat/completions", headers=writer, json=chat)
    if answered.status_code != 200:
        console.print(f"[yellow]judge: the call to be judged failed: HTTP {answered.status_code}[/]")
        return
    _show_score(platform, keys["reader"], answered.json()["id"], console)


def _show_score(platform: LocalPlatform, key: str, call_id: str, console: Console) -> None:
    item = _wait_for_judgment(platform, key, call_id, console)
    if item is None:
        console.print(f"[yellow]judge: no judge score for {call_id} after {JUDGE_WAIT_S:.0f}s[/]")
        return
    ref = item["evaluator"]
    shown = f"{item['score']:g}/{item['score_max']:g}" if item["outcome"] == "scored" else item["outcome"]
    reason = (item.get("explanation") or "").splitlines()[-1:]
    console.print(
        f"[green]✓[/green] judge: {ref['judge_model']} scored call {call_id} {shown} with rubric "
        f"{ref['judge_prompt']} v{ref['judge_prompt_version']} ({escape(' '.join(reason))})"
    )


def _wait_for_judgment(platform: LocalPlatform, key: str, call_id: str, console: Console) -> dict[str, Any] | None:
    deadline = time.monotonic() + JUDGE_WAIT_S
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=platform.url("warehouse"), timeout=30) as warehouse,
        console.status("waiting for the judge's score to become queryable..."),
    ):
        while time.monotonic() < deadline:
            page = warehouse.get("/v1/events/evaluation_scores", params={"call_id": call_id}, headers=headers)
            if page.status_code == 200:
                for row in page.json().get("items", []):
                    judged: list[dict[str, Any]] = [
                        i for i in row["data"]["scores"] if i["evaluator"]["kind"] == "llm_judge"
                    ]
                    if judged:
                        return judged[0]
            time.sleep(0.5)
    return None
