"""The `llmops up` demo of policies: a blocked-terms policy written through the governance service for one demo
app, and the gateway refusing a prompt that names the term a moment later (no restart: every gateway replica
follows ``llmops.policies``). The policy is kept, so `llmops policies list` shows it afterwards."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from rich.console import Console

__all__ = ["POLICY_APP", "POLICY_ID", "run_policy_demo"]

POLICY_APP = "policy-demo"
POLICY_ID = "demo-code-names"
TERM = "Project Falcon"
ENFORCEMENT_TIMEOUT_S = 10.0


def run_policy_demo(
    governance_url: str,
    gateway_url: str,
    admin_key: str,
    model: str,
    console: Console,
    checked: Callable[[httpx.Response, str], dict[str, Any]],
    transport: httpx.BaseTransport | None = None,
) -> None:
    """Write the policy, then ask the gateway with the term until it answers 403 (at most 10 s)."""
    admin = {"Authorization": f"Bearer {admin_key}"}
    policy = {"name": "demo: no code names", "description": "Unreleased products stay in-house",
              "settings": {"kind": "blocked_terms", "app": POLICY_APP, "terms": [TERM]}}  # fmt: skip
    call = {"model": model, "messages": [{"role": "user", "content": f"When does {TERM} ship?"}], "max_tokens": 8}
    with (
        httpx.Client(base_url=governance_url, timeout=30, transport=transport) as governance,
        httpx.Client(base_url=gateway_url, timeout=30, transport=transport) as gateway,
    ):
        put = _until(lambda: governance.put(f"/v1/policies/{POLICY_ID}", headers=admin, json=policy), 503, False)
        written = checked(put, "writing a policy")  # a 503 past the timeout (policies still loading) fails here
        started = time.monotonic()
        headers = {**admin, "X-LLMOps-App": POLICY_APP}
        answer = _until(lambda: gateway.post("/v1/chat/completions", json=call, headers=headers), 403, True)
    took = time.monotonic() - started
    if answer.status_code != 403:
        console.print(f"[yellow]![/yellow] policies: {POLICY_ID} written, but the gateway still accepts the term")
        return
    message = answer.json().get("error", {}).get("message", "")
    console.print(
        f"[green]✓[/green] policies: {POLICY_ID} v{written['version']} (blocked terms for app {POLICY_APP}) "
        f"enforced by the gateway within {took:.1f} s: 403 {message}",
        highlight=False,
    )


def _until(send: Callable[[], httpx.Response], status: int, wanted: bool) -> httpx.Response:
    """``send``'s answer once its status is (``wanted``) or is no longer (not ``wanted``) ``status``, or the last
    one after :data:`ENFORCEMENT_TIMEOUT_S`."""
    deadline = time.monotonic() + ENFORCEMENT_TIMEOUT_S
    response = send()
    while (response.status_code == status) != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
        response = send()
    return response
