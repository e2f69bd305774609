"""The alerting part of `llmops up`'s demo: a drift report pages a local PagerDuty-format receiver, and the
report that follows resolves it; then a daily spend objective shows its error budget (docs/alerting.md).

The receiver is a small HTTP server in this process on loopback (``llmops up`` allows 127.0.0.0/8 for the
alerting service's notifiers) that keeps the Events API v2 bodies it gets. The drift reports are published to
``llmops.drift.reports`` as the drift-detection service publishes them, so the demo shows the alerting path on
its own: rule, alert change, outbox, notifier call, resolve under the same ``dedup_key``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.settings import KafkaSecurity
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import DriftReported, TimeWindow
from rich.console import Console

__all__ = ["run_alert_demo"]

WAIT_S = 60.0
ROUTING_KEY_REF = "demo-routing-key"


class _Inbox(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append(json.loads(body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def _receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Inbox", (_Inbox,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="demo-pagerduty", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v2/enqueue", received
    finally:
        server.shutdown()
        server.server_close()


def _report(tenant: str, app: str, drifted: bool) -> CloudEvent[DriftReported]:
    now = datetime.now(UTC)
    data = DriftReported(
        report_id=f"demo-{uuid.uuid4().hex[:12]}",
        app=app,
        feature="prompt_length",
        statistic="psi",
        value=0.42 if drifted else 0.02,
        threshold=0.2,
        drifted=drifted,
        window=TimeWindow(start=now - timedelta(hours=1), end=now),
        baseline=TimeWindow(start=now - timedelta(days=8), end=now - timedelta(days=1)),
        sample_size=400,
        baseline_sample_size=4000,
        computed_at=now,
    )
    return CloudEvent.wrap(data, source="/demo/drift", tenant_id=tenant)


async def _publish(bootstrap: str, event: CloudEvent[DriftReported]) -> None:
    producer = EventProducer(bootstrap, service="llmops-up", security=KafkaSecurity())
    await producer.start()
    try:
        await producer.publish_many([event])
    finally:
        await producer.stop()


def _wait_for(received: list[dict[str, Any]], action: str) -> dict[str, Any] | None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = next((b for b in received if b.get("event_action") == action), None)
        if found is not None:
            return found
        time.sleep(0.2)
    return None


def run_alert_demo(
    alerting_url: str,
    bootstrap: str,
    tenant: str,
    app: str,
    admin_key: str,
    console: Console,
    checked: Callable[[httpx.Response, str], dict[str, Any]],
) -> None:
    """Set a PagerDuty notifier and a drift rule, inject a drift, show the trigger and the resolve arriving."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    with _receiver() as (url, received), httpx.Client(base_url=alerting_url, headers=headers, timeout=30) as api:
        notifier = {"kind": "pagerduty", "url": url, "secret_ref": ROUTING_KEY_REF, "min_severity": "warning"}
        checked(api.put("/v1/notifiers/demo-pagerduty", json=notifier), "setting the demo's PagerDuty notifier")
        rule = {
            "name": "demo traffic drift",
            "kind": "drift",
            "app": app,
            "severity": "critical",
            "notifiers": ["demo-pagerduty"],
        }
        checked(api.put("/v1/rules/demo-drift", json=rule), "setting the demo's drift rule")
        asyncio.run(_publish(bootstrap, _report(tenant, app, drifted=True)))
        trigger = _wait_for(received, "trigger")
        if trigger is None:
            console.print(
                "[yellow]![/yellow] alerting: no PagerDuty trigger within a minute (see .data/logs/alerting.log)"
            )
            return
        console.print(
            f"[green]✓[/green] alerting: drift injected -> PagerDuty-format [bold]trigger[/bold] "
            f"(dedup_key {trigger['dedup_key']}, severity {trigger['payload']['severity']}): "
            f"{trigger['payload']['summary']}"
        )
        asyncio.run(_publish(bootstrap, _report(tenant, app, drifted=False)))
        resolve = _wait_for(received, "resolve")
        if resolve is None:
            console.print("[yellow]![/yellow] alerting: no resolve within a minute")
            return
        console.print(
            f"[green]✓[/green] alerting: drift gone -> [bold]resolve[/bold] under the same dedup_key "
            f"({resolve['dedup_key'] == trigger['dedup_key']}); `llmops alerts list` shows none open"
        )
        _objective_demo(api, app, console, checked)


def _objective_demo(
    api: httpx.Client, app: str, console: Console, checked: Callable[[httpx.Response, str], dict[str, Any]]
) -> None:
    """A daily spend objective over the demo's stored cost records, and its first status (budget left)."""
    objective = {"app": app, "sli": "cost_per_day", "threshold": 5.0, "target": 0.9, "window_days": 7}
    checked(api.put("/v1/objectives/demo-daily-spend", json=objective), "setting the demo's spend objective")
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        status = checked(api.get("/v1/objectives/demo-daily-spend"), "reading the objective").get("status")
        if status is not None:
            console.print(
                f"[green]✓[/green] objectives: {app} spends at most 5 USD a day on "
                f"{status['sli'] or 0:.0%} of {status['events']:g} days, {status['budget_remaining']:.0%} of the "
                "budget left (`llmops objectives list`)"
            )
            return
        time.sleep(0.5)
    console.print("[yellow]![/yellow] objectives: not evaluated within a minute (see .data/logs/alerting.log)")
