"""The `llmops up` demo of API keys: one created through the governance service, used at the warehouse, revoked,
and refused by the warehouse a moment later (no restart: every service follows the key state topic)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from rich.console import Console

__all__ = ["run_keys_demo"]

REVOCATION_TIMEOUT_S = 10.0


def run_keys_demo(
    governance_url: str,
    warehouse_url: str,
    admin_key: str,
    console: Console,
    checked: Callable[[httpx.Response, str], dict[str, Any]],
) -> None:
    """Create an analyst key, read calls with it, revoke it, and time until the warehouse refuses it."""
    admin = {"Authorization": f"Bearer {admin_key}"}
    with (
        httpx.Client(base_url=governance_url, timeout=30) as governance,
        httpx.Client(base_url=warehouse_url, timeout=30) as warehouse,
    ):
        body = {"name": "demo dashboard", "role": "analyst", "expires_in_s": 3600}
        created = checked(governance.post("/v1/keys", headers=admin, json=body), "creating a key")
        key = {"Authorization": f"Bearer {created['key']}"}
        _wait(lambda: warehouse.get("/v1/calls", params={"limit": 1}, headers=key).status_code == 200)
        checked(governance.delete(f"/v1/keys/{created['key_id']}", headers=admin), "revoking the key")
        revoked_at = time.monotonic()
        refused = _wait(lambda: warehouse.get("/v1/calls", params={"limit": 1}, headers=key).status_code == 401)
    took = time.monotonic() - revoked_at
    outcome = f"refused by the warehouse {took:.1f} s after revocation" if refused else "still accepted (!)"
    console.print(
        f"[green]✓[/green] keys: {created['key_id']} (analyst) created and used at the warehouse, revoked: {outcome}"
    )


def _wait(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + REVOCATION_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
