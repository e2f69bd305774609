"""The `llmops up` demo of retention: the dev tenant's retention policy for calls, and what the warehouse applies.

The policy is published on ``llmops.policies`` as the governance service would; the warehouse materialises it
and ``GET /v1/retention`` shows the calls table at the policy's 30 days (docs/governance.md, "Retention").
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.settings import KafkaSecurity
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import PolicyPublished
from llmops_schemas.v1.governance import RetentionSettings
from rich.console import Console

__all__ = ["run_retention_demo"]

DEMO_DAYS = 30
APPLIED_TIMEOUT_S = 15.0


def run_retention_demo(
    bootstrap_servers: str, warehouse_url: str, admin_key: str, tenant: str, console: Console
) -> None:
    """Publish a 30-day retention of the tenant's calls and wait until the warehouse applies it."""
    policy = PolicyPublished(
        policy_id="demo-calls-retention", name="demo calls retention", kind="retention", version=1,
        settings=RetentionSettings(dataset="calls", days=DEMO_DAYS), updated_by="llmops-up",
        updated_at=datetime.now(UTC),
    )  # fmt: skip
    asyncio.run(_publish(bootstrap_servers, CloudEvent.wrap(policy, source="//llmops/cli", tenant_id=tenant)))
    calls = _applied(warehouse_url, admin_key)
    if calls is None:
        console.print(
            f"[yellow]![/yellow] retention: the warehouse did not show the policy within {APPLIED_TIMEOUT_S:.0f} s"
        )
        return
    console.print(
        f"[green]✓[/green] retention: {tenant}'s calls kept {calls['days']} days ({calls['source']} "
        f"{calls.get('policy_id') or ''}); expired rows are deleted by the table's TTL within an hour"
    )


async def _publish(bootstrap_servers: str, event: CloudEvent[PolicyPublished]) -> None:
    producer = EventProducer(bootstrap_servers, service="llmops-up", security=KafkaSecurity())
    await producer.start()
    try:
        await producer.publish(event)
    finally:
        await producer.stop()


def _applied(warehouse_url: str, admin_key: str) -> dict[str, object] | None:
    """The calls table's retention once it is the demo policy's, or None after the timeout."""
    deadline = time.monotonic() + APPLIED_TIMEOUT_S
    with httpx.Client(base_url=warehouse_url, timeout=10) as client:
        while time.monotonic() < deadline:
            response = client.get("/v1/retention", headers={"Authorization": f"Bearer {admin_key}"})
            if response.status_code == 200:
                calls = next(t for t in response.json()["tables"] if t["table"] == "calls")
                if calls["days"] == DEMO_DAYS:
                    return dict(calls)
            time.sleep(0.2)  # polling the condition, with a deadline
    return None
