"""The `llmops up` judge-drift demo against a fake platform: the anchors, the monitor, two checks, the verdict."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from llmops_cli import judge_drift_demo
from rich.console import Console


class Platform:
    """Evaluation, drift-detection and the warehouse behind one MockTransport: each check stores one report."""

    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = [self.report("old", None, "an earlier `llmops up`")]
        self.bodies: dict[str, Any] = {}

    def url(self, name: str) -> str:
        return f"http://{name}"

    @staticmethod
    def report(report_id: str, drift: bool | None, reason: str | None = None) -> dict[str, Any]:
        metric = {"items": 10, "mean_shift": 0.0, "p_value": 1.0}
        judge = {"monitor_id": "demo-judge", "baseline_run_id": "run-1", "metrics": [metric]}
        return {"data": {"report_id": report_id, "dataset_drift": drift, "reason": reason, "judge": judge}}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host, path = request.url.host, request.url.path
        if host == "evaluation":
            self.bodies["anchors"] = request.content.decode().splitlines()
            return httpx.Response(201, json={"dataset": {"version": 3}})
        if host == "drift-detection" and request.method == "PUT":
            self.bodies["monitor"] = json.loads(request.content)
            return httpx.Response(201, json={})
        if host == "drift-detection" and path.endswith("/check"):
            first = len(self.reports) == 1
            self.reports.insert(
                0, self.report(f"r{len(self.reports)}", None if first else False, "baseline" if first else None)
            )
            return httpx.Response(202, json={})
        if host == "drift-detection" and request.method == "GET":
            return httpx.Response(200, json={"next_check_at": "2026-03-14T10:00:00Z"})
        assert (host, path) == ("warehouse", "/v1/events/drift_reports"), request.url
        return httpx.Response(200, json={"items": self.reports})


def test_the_demo_prints_the_paired_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    platform = Platform()
    real = httpx.Client
    monkeypatch.setattr(
        judge_drift_demo.httpx, "Client", lambda **kw: real(transport=httpx.MockTransport(platform), **kw)
    )
    console = Console(record=True, width=300, color_system=None)
    judge_drift_demo.run_judge_drift_demo(platform, {"admin": "k"}, "demo-tools", console)  # type: ignore[arg-type]
    out = console.export_text()
    assert "judge drift: demo-judge re-scored 10 anchor answers with local-judge, paired with baseline run run-1: " \
           "dataset_drift=False (mean shift +0.00, Wilcoxon p 1)" in out, out  # fmt: skip
    assert "next check 2026-03-14T10:00:00Z by the replica owning its partition of llmops.drift.judges" in out
    assert len(platform.bodies["anchors"]) == 10
    monitor = platform.bodies["monitor"]
    assert (monitor["dataset_version"], monitor["variant"], monitor["judge"]["params"]["model"]) == (
        3, {"model": "demo-tools"}, "local-judge"
    )  # fmt: skip
