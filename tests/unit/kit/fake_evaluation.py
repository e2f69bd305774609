"""A fake evaluation service (``httpx.MockTransport``): the offline-run routes the kit's EvaluationClient uses.

Datasets are seeded; a run started with ``POST /v1/runs`` answers ``running`` (202) and is settled the first time it
is read: ``completed`` with one score per item from ``score(run_number, example_id)``, unless ``hold`` keeps it
running or ``fail_with`` fails it. ``down`` makes every route answer that status (503 with ``Retry-After``).
It answers as the real routes do (tests/unit/kit/evaluation_contract.py holds both to it): 404 for an unknown
dataset or run, 409 while a compared run is running, the service key's tenant from the tenant header.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from llmops_kit.auth import TENANT_HEADER

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
Score = Callable[[int, str], float | None]


class FakeEvaluation:
    """Datasets by (tenant, name, version) -> example ids; runs by (tenant, run id)."""

    def __init__(self) -> None:
        self.datasets: dict[tuple[str, str, int], list[str]] = {}
        self.runs: dict[tuple[str, str], dict[str, Any]] = {}
        self.scores: dict[tuple[str, str], dict[str, float | None]] = {}
        self.score: Score = lambda run, example: 4.0
        self.hold = False
        self.fail_with: str | None = None
        self.down: int | None = None
        self.started: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def seed(self, tenant: str, name: str, example_ids: list[str], version: int = 1) -> None:
        self.datasets[(tenant, name, version)] = list(example_ids)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down is not None:
            return _problem(self.down, "the evaluation service is unavailable", {"Retry-After": "1"})
        tenant = request.headers.get(TENANT_HEADER)
        if tenant is None:
            return _problem(422, "a service key names its tenant")
        path = request.url.path
        if request.method == "POST" and path == "/v1/runs":
            return self._start(tenant, json.loads(request.content))
        if request.method == "GET" and path == "/v1/runs/compare":
            params = request.url.params
            return self._compare(tenant, params["baseline"], params["candidate"], int(params.get("examples", 200)))
        if request.method == "GET" and path.startswith("/v1/runs/"):
            run = self._settled(tenant, path.removeprefix("/v1/runs/"))
            return httpx.Response(200, json=run) if run else _problem(404, "no such run")
        return _problem(404, f"no route {request.method} {path}")

    def _start(self, tenant: str, spec: dict[str, Any]) -> httpx.Response:
        version = spec.get("dataset_version") or max(
            (v for (t, n, v) in self.datasets if (t, n) == (tenant, spec["dataset"])), default=0
        )
        if (tenant, spec["dataset"], version) not in self.datasets:
            return _problem(404, f"no dataset {spec['dataset']!r}")
        self.started.append(spec)
        number = len(self.started)
        at = (T0 + timedelta(minutes=number)).isoformat()
        run = {"run_id": f"run-{number}", "dataset": spec["dataset"], "dataset_version": version,
               "variant": spec["variant"], "evaluators": spec.get("inline", []), "status": "running",
               "total": len(self.datasets[(tenant, spec["dataset"], version)]), "completed": 0, "failed": 0,
               "failures": [], "created_at": at, "updated_at": at}  # fmt: skip
        self.runs[(tenant, run["run_id"])] = run
        return httpx.Response(202, json=run)

    def _settled(self, tenant: str, run_id: str) -> dict[str, Any] | None:
        run = self.runs.get((tenant, run_id))
        if run is None or run["status"] != "running" or self.hold:
            return run
        number = int(run_id.removeprefix("run-"))
        ended = (datetime.fromisoformat(run["created_at"]) + timedelta(seconds=30)).isoformat()
        if self.fail_with is not None:
            run.update(status="failed", error=self.fail_with, updated_at=ended)
            return run
        examples = self.datasets[(tenant, run["dataset"], run["dataset_version"])]
        self.scores[(tenant, run_id)] = {example: self.score(number, example) for example in examples}
        run.update(status="completed", completed=len(examples), updated_at=ended)
        return run

    def _compare(self, tenant: str, baseline: str, candidate: str, limit: int) -> httpx.Response:
        runs = [self._settled(tenant, baseline), self._settled(tenant, candidate)]
        if runs[0] is None or runs[1] is None:
            return _problem(404, "no such run")
        if any(run["status"] == "running" for run in runs):
            return _problem(409, "a run is still running")
        before, after = self.scores.get((tenant, baseline), {}), self.scores.get((tenant, candidate), {})
        evaluator = runs[1]["evaluators"][0]["name"] if runs[1]["evaluators"] else "judge"
        rows = [{"example_id": example, "evaluator": evaluator, "metric": "judge", "baseline": before.get(example),
                 "candidate": after.get(example)} for example in sorted(before.keys() | after.keys())]  # fmt: skip
        return httpx.Response(200, json={"baseline": runs[0], "candidate": runs[1], "metrics": [],
                                         "examples": rows[:limit]})  # fmt: skip


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"type": "about:blank", "title": "error", "status": status, "detail": detail}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json", **(headers or {})})
