"""The PII part of `llmops up`'s demo: a call full of personal data sent to ingest, and what the warehouse stored
of it (docs/pii.md)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape

from llmops_cli.client import ApiError, PlatformClient

__all__ = ["run_pii_demo"]

STORED_TIMEOUT_S = 60.0
PROMPT = (
    "Hi, I'm Priya Sharma (priya.sharma@example.com, +44 20 7946 0958). Please refund card 4111 1111 1111 1111 "
    "to IBAN GB82 WEST 1234 5698 7654 32; my key ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked too."
)


def run_pii_demo(client: PlatformClient, console: Console) -> None:
    """Send one call with personal data and secrets; print the user message as stored."""
    call_id = f"pii-demo-{int(time.time() * 1000)}"
    record = {
        "call_id": call_id,
        "app": "llmops-demo-pii",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "messages": [{"role": "user", "content": PROMPT}],
        "output": "I have passed your request on, Priya Sharma.",
        "started_at": datetime.now(UTC).isoformat(),
        "latency_ms": 420.0,
    }
    client.send_calls([record])
    deadline = time.monotonic() + STORED_TIMEOUT_S
    stored = None
    with console.status("waiting for the redacted call to be stored..."):
        while stored is None and time.monotonic() < deadline:
            try:
                stored = client.get_call(call_id)
            except ApiError:
                time.sleep(0.5)
    if stored is None:
        console.print(f"[yellow]the PII demo call {call_id} was not stored within {STORED_TIMEOUT_S:.0f}s[/]")
        return
    console.print(f"[green]✓[/green] redacted call {call_id} (sent: {escape(PROMPT[:60])}...)")
    console.print(f"  stored: {escape(stored['messages'][0]['content'])}", highlight=False)
    console.print(f"  output: {escape(stored['output'] or '')}", highlight=False)
