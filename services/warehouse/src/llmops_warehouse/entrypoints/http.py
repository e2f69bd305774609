"""The warehouse's query API: calls and metrics, always scoped to the caller's tenant."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from llmops_kit.auth import Principal, requires
from llmops_kit.http.app import create_service_app
from llmops_kit.http.problems import ProblemError
from pydantic import BaseModel, ValidationError

from llmops_warehouse import __version__
from llmops_warehouse.bootstrap import build_runtime
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.models import (
    CallPage,
    CallQuery,
    CallRow,
    InvalidCursorError,
    MetricsQuery,
    SummaryRow,
    TimeseriesPoint,
    TimeseriesQuery,
)
from llmops_warehouse.ports import CallStore
from llmops_warehouse.threaded_store import ThreadedCallStore

__all__ = ["create_app"]

Q = TypeVar("Q", bound=BaseModel)
CanReadCalls = Annotated[Principal, Depends(requires("calls:read"))]
CanReadMetrics = Annotated[Principal, Depends(requires("metrics:read"))]
Text = Annotated[str | None, Query(max_length=256)]
When = Annotated[datetime | None, Query(description="ISO 8601 with a timezone, e.g. 2026-11-28T10:00:00Z")]
GroupBy = Annotated[Literal["none", "app", "model"], Query(description="Group the metrics by")]


class SummaryResponse(BaseModel):
    """Metrics per group over the window."""

    start: datetime
    end: datetime
    items: list[SummaryRow]


class TimeseriesResponse(BaseModel):
    """Metrics per bucket (and group); buckets without calls are left out."""

    start: datetime
    end: datetime
    step_seconds: int
    items: list[TimeseriesPoint]


def _build(query_type: type[Q], /, **fields: Any) -> Q:
    """Validate query parameters as a domain query; a bad combination is a 422 problem."""
    try:
        return query_type.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'query'}: {e['msg']}" for e in errors)
        raise ProblemError(422, "Unprocessable Content", detail, errors=errors) from exc


def _store(request: Request) -> ThreadedCallStore:
    store: ThreadedCallStore = request.app.state.store
    return store


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = end or datetime.now(UTC)
    return start or end - timedelta(hours=1), end


router = APIRouter(prefix="/v1", tags=["analytics"])
Store = Annotated[ThreadedCallStore, Depends(_store)]


@router.get("/calls", response_model=CallPage, summary="List calls, newest first, with filters and a cursor")
async def list_calls(
    caller: CanReadCalls,
    store: Store,
    app: Text = None,
    environment: Text = None,
    model: Text = None,
    status: Annotated[Literal["ok", "error"] | None, Query()] = None,
    user_id: Text = None,
    session_id: Text = None,
    trace_id: Text = None,
    start: When = None,
    end: When = None,
    text: Annotated[str | None, Query(max_length=1024, description="Case-insensitive substring search")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
) -> CallPage:
    """The caller's tenant's calls matching every given filter. Pass ``next_cursor`` back for the next page."""
    query = _build(CallQuery, tenant_id=caller.tenant_id, app=app, environment=environment, model=model,
                   status=status, user_id=user_id, session_id=session_id, trace_id=trace_id, start=start, end=end,
                   text=text, limit=limit, cursor=cursor)  # fmt: skip
    try:
        return await store.list_calls(query)
    except InvalidCursorError as exc:
        raise ProblemError(400, "Bad Request", str(exc)) from exc


@router.get("/calls/{call_id}", response_model=CallRow, summary="One call by its call id")
async def get_call(caller: CanReadCalls, store: Store, call_id: str) -> CallRow:
    """A call of the caller's tenant; another tenant's call is indistinguishable from a missing one (404)."""
    row = await store.get_call(caller.tenant_id, call_id)
    if row is None:
        raise ProblemError(404, "Not Found", f"no call with id '{call_id}'")
    return row


@router.get("/metrics/summary", response_model=SummaryResponse, summary="Calls, errors, tokens, latency quantiles")
async def summary(
    caller: CanReadMetrics,
    store: Store,
    start: When = None,
    end: When = None,
    group_by: GroupBy = "none",
    app: Text = None,
    environment: Text = None,
    model: Text = None,
) -> SummaryResponse:
    """Aggregates over ``[start, end)`` (default: the last hour), widened to whole minutes."""
    start, end = _window(start, end)
    query = _build(MetricsQuery, tenant_id=caller.tenant_id, start=start, end=end, group_by=group_by, app=app,
                   environment=environment, model=model)  # fmt: skip
    return SummaryResponse(start=query.start, end=query.end, items=await store.summary(query))


@router.get("/metrics/timeseries", response_model=TimeseriesResponse, summary="Metrics per time bucket")
async def timeseries(
    caller: CanReadMetrics,
    store: Store,
    start: When = None,
    end: When = None,
    step_seconds: Annotated[int, Query(ge=60, le=400 * 86_400, description="Multiple of 60")] = 60,
    group_by: GroupBy = "none",
    app: Text = None,
    environment: Text = None,
    model: Text = None,
) -> TimeseriesResponse:
    """Buckets of ``step_seconds`` over ``[start, end)`` (default: the last hour); at most 2,000 buckets."""
    start, end = _window(start, end)
    query = _build(TimeseriesQuery, tenant_id=caller.tenant_id, start=start, end=end, step_seconds=step_seconds,
                   group_by=group_by, app=app, environment=environment, model=model)  # fmt: skip
    items = await store.timeseries(query)
    return TimeseriesResponse(start=query.start, end=query.end, step_seconds=step_seconds, items=items)


def create_app(
    settings: WarehouseSettings | None = None, store_factory: Callable[[], CallStore] | None = None
) -> FastAPI:
    """The warehouse app; ``store_factory`` lets tests run it on the in-memory fake."""
    settings = settings or WarehouseSettings()

    async def runtime(app: FastAPI) -> Any:
        return await build_runtime(app, settings, store_factory() if store_factory else None)

    app = create_service_app(
        service="warehouse",
        title="LLMOps warehouse",
        description="The only ClickHouse writer: stores recorded calls once each and answers analytics queries.",
        version=__version__,
        build_runtime=runtime,
    )
    app.include_router(router)
    return app
