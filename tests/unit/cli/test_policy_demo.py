"""The `llmops up` policy demo's steps, over a scripted transport: the policy written, the gateway asked until it
refuses, the refusal printed; and what it prints when the gateway never refuses."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from llmops_cli import policy_demo
from llmops_cli.policy_demo import POLICY_APP, POLICY_ID, run_policy_demo
from rich.console import Console

REFUSAL = {"error": {"message": f"refused by policy '{POLICY_ID}' (blocked_terms): the prompt contains a blocked term",
                     "type": "permission_error", "param": None, "code": "policy_violation"}}  # fmt: skip


def _checked(response: httpx.Response, what: str) -> dict[str, Any]:
    assert response.status_code < 400, what
    body: dict[str, Any] = response.json()
    return body


def _transport(accepted_before_refusal: int | None) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == f"/v1/policies/{POLICY_ID}":
            return httpx.Response(201, json={**json.loads(request.content), "policy_id": POLICY_ID, "version": 1})
        calls = [r for r in seen if r.url.path == "/v1/chat/completions"]
        if accepted_before_refusal is not None and len(calls) > accepted_before_refusal:
            return httpx.Response(403, json=REFUSAL)
        return httpx.Response(200, json={"choices": []})

    return httpx.MockTransport(handle), seen


def test_the_demo_writes_the_policy_and_reports_the_gateways_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_demo.time, "sleep", lambda _: None)
    transport, seen = _transport(accepted_before_refusal=2)
    console = Console(record=True, width=300)
    run_policy_demo("http://gov", "http://gw", "admin-key", "demo-tools", console, _checked, transport=transport)
    put = seen[0]
    assert put.method == "PUT" and json.loads(put.content)["settings"]["app"] == POLICY_APP
    calls = [r for r in seen if r.url.path == "/v1/chat/completions"]
    assert len(calls) == 3 and all(r.headers["x-llmops-app"] == POLICY_APP for r in calls)
    printed = console.export_text()
    assert f"policies: {POLICY_ID} v1" in printed and "403 refused by policy" in printed


def test_the_demo_says_so_when_the_gateway_never_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_demo, "ENFORCEMENT_TIMEOUT_S", 0.05)
    transport, _ = _transport(accepted_before_refusal=None)
    console = Console(record=True, width=300)
    run_policy_demo("http://gov", "http://gw", "admin-key", "demo-tools", console, _checked, transport=transport)
    assert "still accepts the term" in console.export_text()
