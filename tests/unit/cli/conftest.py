"""CLI unit fixtures: the real Typer app, and a fake platform behind an ``httpx.MockTransport``.

The fake answers with the services' own shapes: ingest validates each record with ``CallRecorded`` (202,
or 422 with ``rejected`` when none passed), the warehouse serves ``CallRow``/``SummaryRow``/``TimeseriesPoint``
dumps. Commands get the transport through Click's context object (``obj=CliContext(...)``), nothing is patched.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from llmops_cli.context import CliContext
from llmops_cli.demo import demo_calls
from llmops_cli.main import app
from llmops_schemas.v1 import CallRecorded
from llmops_warehouse.models import CallRow, SummaryRow, TimeseriesPoint
from pydantic import ValidationError
from rich.console import Console
from typer.testing import CliRunner, Result

Handler = Callable[[httpx.Request], httpx.Response]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CLI_ENV_VARS = ("LLMOPS_INGEST_URL", "LLMOPS_WAREHOUSE_URL", "LLMOPS_API_KEY", "LLMOPS_DATA_DIR", "COLUMNS")


def problem(status: int, detail: str, **extra: Any) -> httpx.Response:
    title = {401: "Unauthorized", 422: "Unprocessable Content", 503: "Service Unavailable"}.get(status, "Error")
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def call_row(record: dict[str, Any]) -> dict[str, Any]:
    """What the warehouse returns for a record ingest accepted."""
    row = CallRow.model_validate(
        {
            "status": "ok",
            **record,
            "event_id": str(uuid.uuid4()),
            "tenant_id": "demo",
            "received_at": record["started_at"],
            "ingested_at": record["started_at"],
        }
    )
    return row.model_dump(mode="json")


def summary_row(
    group: str | None, calls: int, errors: int, tokens: tuple[int, int], p: tuple[float, ...]
) -> SummaryRow:
    row: SummaryRow = SummaryRow.compute(calls, errors, tokens[0], tokens[1], sum(tokens), p, group=group)
    return row


@dataclass
class FakePlatform:
    """Ingest and warehouse in one handler; every request is kept in ``requests``."""

    requests: list[httpx.Request] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    summary: list[SummaryRow] = field(default_factory=list)
    points: list[TimeseriesPoint] = field(default_factory=list)
    next_cursor: str | None = None
    override: Handler | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.override(request) if self.override is not None else self.route(request)

    def route(self, request: httpx.Request) -> httpx.Response:
        route = (request.method, request.url.path)
        if route == ("POST", "/v1/calls"):
            return self._ingest(request)
        if route == ("GET", "/v1/calls"):
            return httpx.Response(200, json={"items": self.calls, "next_cursor": self.next_cursor})
        window = {"start": (NOW - timedelta(hours=1)).isoformat(), "end": NOW.isoformat()}
        if route == ("GET", "/v1/metrics/summary"):
            return httpx.Response(200, json={**window, "items": [r.model_dump(mode="json") for r in self.summary]})
        if route == ("GET", "/v1/metrics/timeseries"):
            step = int(request.url.params.get("step_seconds", "60"))
            items = [p.model_dump(mode="json") for p in self.points]
            return httpx.Response(200, json={**window, "step_seconds": step, "items": items})
        return problem(404, f"no route {route}")

    def _ingest(self, request: httpx.Request) -> httpx.Response:
        records = json.loads(request.content)["calls"]
        accepted, rejected = [], []
        for index, record in enumerate(records):
            try:
                CallRecorded.model_validate(record)
            except ValidationError as exc:
                errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
                rejected.append({"index": index, "errors": errors})
                continue
            accepted.append({"index": index, "call_id": record["call_id"], "event_id": str(uuid.uuid4())})
            self.calls.append(record)
        if not accepted:
            return problem(422, "every record was rejected", accepted=[], rejected=rejected)
        return httpx.Response(202, json={"accepted": accepted, "rejected": rejected})

    def ingest_posts(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST"]


@pytest.fixture
def fake() -> FakePlatform:
    return FakePlatform()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def invoke(fake: FakePlatform, data_dir: Path) -> Iterator[Callable[..., Result]]:
    """Run ``llmops <args>`` against the fake with a clean environment (``env`` adds variables)."""
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        context = CliContext(
            transport=httpx.MockTransport(fake),
            out=Console(width=200, color_system=None, force_terminal=False),
            err=Console(width=200, color_system=None, force_terminal=False, stderr=True),
        )
        environment: dict[str, str | None] = dict.fromkeys(CLI_ENV_VARS)
        environment |= {"LLMOPS_DATA_DIR": str(data_dir), **(env or {})}
        return runner.invoke(app, list(args), obj=context, env=environment, input=input)

    yield run


@pytest.fixture
def demo() -> Callable[[int], list[dict[str, Any]]]:
    return lambda count: list(demo_calls(count, seed=3))
