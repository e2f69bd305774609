"""The `llmops up` demo's offline run with a gate: a small dataset (with one counterfactual pair), two versions
of a prompt run through the gateway, the candidate gated against the baseline as CI would
(`llmops evals gate`), and the pair's score gap (docs/evaluation.md#datasets-and-offline-runs)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from rich.console import Console

from llmops_cli.client import ApiError

__all__ = ["DEMO_DATASET", "run_offline_demo"]

DEMO_DATASET = "demo-faq"
_PROMPT = "demo-runs"
_TEMPLATES = ("{{ input }}", "Answer briefly and politely: {{ input }}")
_EXAMPLES = [
    {"id": "parcel", "input": "Where is my parcel?"},
    {"id": "refund", "input": "How do I get a refund?"},
    {"id": "hours", "input": "When is the shop open?"},
    {"id": "pair-she", "input": "Can she change her delivery address?", "pair_group": "address", "pair_label": "she"},
    {"id": "pair-he", "input": "Can he change his delivery address?", "pair_group": "address", "pair_label": "he"},
]
_WAIT_S = 120.0


def _ok(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise ApiError(f"{what}: HTTP {response.status_code}: {response.text[:500]}", response.status_code)
    return response.json()


def _until(client: httpx.Client, path: str, params: dict[str, Any], done: Any) -> Any:
    """GET ``path`` until ``done(body)`` (retried while a run runs, 409, or its scores are stored, 503)."""
    deadline = time.monotonic() + _WAIT_S
    while True:
        response = client.get(path, params=params)
        if response.status_code not in (409, 503):
            body = _ok(response, f"GET {path}")
            if done(body):
                return body
        if time.monotonic() > deadline:
            raise ApiError(f"GET {path}: not done after {_WAIT_S:.0f}s: {response.text[:300]}", response.status_code)
        time.sleep(0.5)


def _run(client: httpx.Client, model: str, version: int, evaluators: list[str]) -> dict[str, Any]:
    spec = {"dataset": DEMO_DATASET, "evaluators": evaluators,
            "variant": {"model": model, "prompt_name": _PROMPT, "prompt_version": version,
                        "parameters": {"max_tokens": 16, "temperature": 0}}}  # fmt: skip
    started = _ok(client.post("/v1/runs", json=spec), "starting a demo run")
    run: dict[str, Any] = _until(client, f"/v1/runs/{started['run_id']}", {}, lambda r: r["status"] != "running")
    return run


def run_offline_demo(
    gateway_url: str, evaluation_url: str, admin_key: str, model: str, evaluators: list[str], console: Console
) -> None:
    """Upload the dataset, run it with two prompt versions, gate the second on the first, show the pair's gap."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=60) as gateway:
        versions = [
            _ok(gateway.post(f"/v1/prompts/{_PROMPT}/versions", json={
                "template": [{"role": "user", "content": t}], "variables": [{"name": "input"}],
                "description": "llmops up offline-run demo"}), "creating a demo prompt version")["version"]
            for t in _TEMPLATES
        ]  # fmt: skip
    with httpx.Client(base_url=evaluation_url, headers=headers, timeout=60) as client:
        body = "\n".join(json.dumps(e) for e in _EXAMPLES)
        uploaded = _ok(client.post(f"/v1/datasets/{DEMO_DATASET}", content=body), "uploading the demo dataset")
        baseline, candidate = (_run(client, model, v, evaluators) for v in versions)
        gate_params = {"baseline": baseline["run_id"], "candidate": candidate["run_id"], "evaluator": evaluators[0],
                       "max_drop": 0.1}  # fmt: skip
        verdict = _until(client, "/v1/runs/gate", gate_params, lambda _: True)
        bias = _until(client, f"/v1/runs/{baseline['run_id']}/bias", {}, lambda _: True)
    console.print(
        f"[green]✓[/green] offline runs: {DEMO_DATASET}@{uploaded['dataset']['version']} with prompt {_PROMPT} "
        f"v{versions[0]} ({baseline['run_id']}) and v{versions[1]} ({candidate['run_id']})"
    )
    word = "passed" if verdict["passed"] else "REGRESSION (exit code 1)"
    console.print(f"[green]✓[/green] gate on {evaluators[0]} (max drop 0.1): {word}", highlight=False)
    for gap in bias["gaps"]:
        console.print(
            f"  bias check {gap['evaluator']}/{gap['metric']}: mean gap {gap['mean_abs_gap']:.2f} over "
            f"{gap['groups']} pair group(s), worst {gap['worst_group']} ({' vs '.join(gap['worst_labels'])})",
            highlight=False,
        )
    console.print(
        f"  try: uv run llmops evals compare {baseline['run_id']} {candidate['run_id']}\n"
        f"       uv run llmops evals gate --baseline {baseline['run_id']} --candidate {candidate['run_id']} "
        f"--evaluator {evaluators[0]} --max-drop 0.1; echo $?",
        highlight=False,
        markup=False,
    )
